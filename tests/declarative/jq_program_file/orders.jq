# The program in a file of its own, next to the pipeline: $currency is an argument.
def num: if type == "string" then tonumber else . end;
{id, currency: $currency, lines: (.items | length), first_sku: .items[0].sku}
