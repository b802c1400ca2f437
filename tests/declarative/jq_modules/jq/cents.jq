def cents: . * 100 | round / 100;
