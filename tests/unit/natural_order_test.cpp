#include "natural_order.h"

#include <gtest/gtest.h>

#include <algorithm>

TEST(NaturalOrder, OrdersGhArchiveHoursNumerically) {
  std::vector<std::string> files{"2021-07-21-10.json.gz", "2021-07-21-6.json.gz",
                                 "2021-07-22-0.json.gz", "2021-07-21-23.json.gz",
                                 "2021-07-21-0.json.gz"};
  std::sort(files.begin(), files.end(), etl_file::naturalLess);
  EXPECT_EQ(files, (std::vector<std::string>{"2021-07-21-0.json.gz", "2021-07-21-6.json.gz",
                                             "2021-07-21-10.json.gz", "2021-07-21-23.json.gz",
                                             "2021-07-22-0.json.gz"}));
  EXPECT_FALSE(etl_file::naturalLess("a", "a"));
  EXPECT_TRUE(etl_file::naturalLess("a", "ab"));
}
