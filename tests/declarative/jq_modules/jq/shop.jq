def amount: (.price | if type == "string" then tonumber else . end) * (.qty // 1);
