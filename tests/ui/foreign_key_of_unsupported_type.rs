use diesel::prelude::*;
use fk_safe::FkOrdered;

diesel::table! { gauges (id) { id -> SmallInt } }
diesel::table! { readings (id) { id -> BigInt, gauge_id -> SmallInt } }

#[derive(Identifiable)]
#[diesel(table_name = gauges)]
struct Gauge { id: i16 }

// fk-safe carries i64, i32, String and uuid::Uuid keys, not i16.
#[derive(Insertable, FkOrdered)]
#[diesel(table_name = readings)]
#[diesel(belongs_to(Gauge, foreign_key = gauge_id))]
struct NewReading { gauge_id: i16 }

fn main() {}
