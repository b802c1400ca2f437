# (jq 1.6: an include written after an import is not seen; include first.)
include "cents";
import "shop" as shop;
{id, total: ([.items[] | shop::amount] | add | cents)}
