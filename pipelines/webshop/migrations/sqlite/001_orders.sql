-- The web shop's tables in the embedded SQLite store: PostgreSQL's columns and checks, with
-- SQLite's types (timestamps as ISO 8601 text).
CREATE TABLE IF NOT EXISTS orders (
  order_id      TEXT PRIMARY KEY,
  status        TEXT NOT NULL,
  customer_name TEXT,
  email         TEXT,
  total         NUMERIC NOT NULL CHECK (total >= 0),
  item_count    INTEGER NOT NULL,
  coupon        TEXT,
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS order_items (
  order_id   TEXT NOT NULL REFERENCES orders (order_id),
  line       INTEGER NOT NULL,
  sku        TEXT NOT NULL,
  qty        INTEGER NOT NULL CHECK (qty > 0),
  unit_price NUMERIC NOT NULL CHECK (unit_price >= 0),
  PRIMARY KEY (order_id, line)
);

CREATE TABLE IF NOT EXISTS order_events (
  order_id TEXT NOT NULL,
  status   TEXT NOT NULL,
  at       TEXT NOT NULL
);
