# A web-shop order, one JSON line, into its `orders` row, one `order_items` row per item and an
# `order_events` row (pipelines/webshop.yaml). The shop's lines vary: amounts and quantities as
# strings or numbers, timestamps as ISO 8601, "DD/MM/YYYY HH:MM:SS" (UTC) or epoch seconds,
# fields missing. All of an order's rows are stored together or not at all.
def num: if type == "string" then tonumber else . end;
def ts:
  if . == null then null
  elif type == "number" then todate
  elif test("^[0-9]{2}/[0-9]{2}/[0-9]{4} ") then strptime("%d/%m/%Y %H:%M:%S") | mktime | todate
  else . end;
def cents: . * 100 | round / 100;

. as $order
| [(.items // [])[] | {sku, qty: ((.qty // 1) | num), price: (.price | num)}] as $items
| (.status // "new") as $status
| ((.updated_at // .created_at) | ts) as $at
| {_stream: "orders", order_id: .id, status: $status, customer_name: .customer.name,
   email: (.customer.email | if . then ascii_downcase else . end),
   total: ([$items[] | .price * .qty] | add // 0 | cents), item_count: ($items | length),
   coupon, created_at: (.created_at | ts), updated_at: $at},
  ($items | to_entries[] | {_stream: "order_items", order_id: $order.id, line: (.key + 1),
                            sku: .value.sku, qty: .value.qty, unit_price: .value.price}),
  {_stream: "order_events", order_id: .id, status: $status, at: $at}
