-- The web shop's tables (pipelines/webshop.yaml). The checks are the shop's rules: an item row
-- that breaks one is refused by the database, and its whole order becomes one dead letter.
CREATE TABLE IF NOT EXISTS orders (
  order_id      text PRIMARY KEY,
  status        text NOT NULL,
  customer_name text,
  email         text,
  total         numeric(12, 2) NOT NULL CHECK (total >= 0),
  item_count    integer NOT NULL,
  coupon        text,
  created_at    timestamptz NOT NULL,
  updated_at    timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS order_items (
  order_id   text NOT NULL REFERENCES orders (order_id),
  line       integer NOT NULL,
  sku        text NOT NULL,
  qty        integer NOT NULL CHECK (qty > 0),
  unit_price numeric(12, 2) NOT NULL CHECK (unit_price >= 0),
  PRIMARY KEY (order_id, line)
);

-- Every order line read, once: no key, so a line stored twice would show.
CREATE TABLE IF NOT EXISTS order_events (
  order_id text NOT NULL,
  status   text NOT NULL,
  at       timestamptz NOT NULL
);
