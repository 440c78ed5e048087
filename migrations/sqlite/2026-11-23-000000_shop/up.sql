-- The SQLite twin of migrations/postgres: same tables, same columns, same
-- actions. SQLite resolves a foreign key's parent when it is used, so the
-- mutual reference between departments and employees is declared inline.

CREATE TABLE customers (
    id          INTEGER PRIMARY KEY,
    email       TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL
);

CREATE TABLE products (
    id          INTEGER PRIMARY KEY,
    sku         TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    price_cents BIGINT NOT NULL
);

CREATE TABLE orders (
    id          INTEGER PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE NO ACTION,
    total_cents BIGINT NOT NULL DEFAULT 0,
    -- An external reference (an importer's order number): a natural key.
    reference   TEXT UNIQUE
);

CREATE TABLE order_items (
    id          INTEGER PRIMARY KEY,
    order_id    BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    product_id  BIGINT NOT NULL REFERENCES products (id) ON DELETE RESTRICT ON UPDATE RESTRICT,
    quantity    INTEGER NOT NULL,
    line_ref    TEXT UNIQUE
);

CREATE TABLE departments (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL,
    head_employee_id BIGINT REFERENCES employees (id) DEFERRABLE INITIALLY DEFERRED
);

CREATE TABLE employees (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    manager_id    BIGINT REFERENCES employees (id) ON DELETE SET NULL,
    department_id BIGINT REFERENCES departments (id)
);

CREATE TABLE warehouses (
    tenant_id BIGINT NOT NULL,
    code      TEXT NOT NULL,
    name      TEXT NOT NULL,
    PRIMARY KEY (tenant_id, code)
);

CREATE TABLE stock_levels (
    id             INTEGER PRIMARY KEY,
    tenant_id      BIGINT NOT NULL,
    warehouse_code TEXT,
    product_id     BIGINT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    quantity       INTEGER NOT NULL,
    FOREIGN KEY (tenant_id, warehouse_code) REFERENCES warehouses (tenant_id, code)
        ON UPDATE CASCADE ON DELETE NO ACTION
);

CREATE TABLE "Lager ""Nord"" Größe" (
    "Bin ID" INTEGER PRIMARY KEY,
    "Label"  TEXT NOT NULL
);

CREATE TABLE "Pick Lines (Ä)" (
    "Line ID"     INTEGER PRIMARY KEY,
    "Bin, (Ref)"  BIGINT NOT NULL REFERENCES "Lager ""Nord"" Größe" ("Bin ID"),
    "Note"        TEXT
);
