-- The demo schema used by the tests and examples. It is deliberately
-- hostile: every kind of foreign key fk-safe has to understand appears here.

CREATE TABLE customers (
    id          BIGSERIAL PRIMARY KEY,
    email       TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL
);

CREATE TABLE products (
    id          BIGSERIAL PRIMARY KEY,
    sku         TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    price_cents BIGINT NOT NULL
);

-- NO ACTION (the default): deleting a customer with orders fails.
CREATE TABLE orders (
    id          BIGSERIAL PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE NO ACTION,
    total_cents BIGINT NOT NULL DEFAULT 0,
    -- An external reference (an importer's order number): a natural key.
    reference   TEXT UNIQUE
);

-- CASCADE towards the order, RESTRICT towards the product.
CREATE TABLE order_items (
    id          BIGSERIAL PRIMARY KEY,
    order_id    BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    product_id  BIGINT NOT NULL REFERENCES products (id) ON DELETE RESTRICT ON UPDATE RESTRICT,
    quantity    INTEGER NOT NULL,
    line_ref    TEXT UNIQUE
);

-- Two tables that reference each other; the department -> head side is
-- DEFERRABLE so both rows can be written in one transaction.
CREATE TABLE departments (
    id               BIGSERIAL PRIMARY KEY,
    name             TEXT NOT NULL,
    head_employee_id BIGINT
);

-- Self reference with SET NULL: a manager leaving orphans nobody.
CREATE TABLE employees (
    id            BIGSERIAL PRIMARY KEY,
    name          TEXT NOT NULL,
    manager_id    BIGINT REFERENCES employees (id) ON DELETE SET NULL,
    department_id BIGINT REFERENCES departments (id)
);

ALTER TABLE departments
    ADD CONSTRAINT departments_head_employee_id_fkey
    FOREIGN KEY (head_employee_id) REFERENCES employees (id)
    DEFERRABLE INITIALLY DEFERRED;

-- A composite key, and a composite foreign key that cascades re-keys.
CREATE TABLE warehouses (
    tenant_id BIGINT NOT NULL,
    code      TEXT NOT NULL,
    name      TEXT NOT NULL,
    PRIMARY KEY (tenant_id, code)
);

CREATE TABLE stock_levels (
    id             BIGSERIAL PRIMARY KEY,
    tenant_id      BIGINT NOT NULL,
    warehouse_code TEXT,
    product_id     BIGINT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    quantity       INTEGER NOT NULL,
    FOREIGN KEY (tenant_id, warehouse_code) REFERENCES warehouses (tenant_id, code)
        ON UPDATE CASCADE ON DELETE NO ACTION
);

-- Identifiers that must be quoted everywhere: upper case, spaces, double
-- quotes, non-ASCII, and a column name containing ", " and parentheses.
CREATE TABLE "Lager ""Nord"" Größe" (
    "Bin ID" BIGSERIAL PRIMARY KEY,
    "Label"  TEXT NOT NULL
);

CREATE TABLE "Pick Lines (Ä)" (
    "Line ID"     BIGSERIAL PRIMARY KEY,
    "Bin, (Ref)"  BIGINT NOT NULL REFERENCES "Lager ""Nord"" Größe" ("Bin ID"),
    "Note"        TEXT
);
