#pragma once
// Pieces of the text report that the HTML report (html_report.cpp) lays
// out again: one definition of each column, number format and note.
#include <string>
#include <vector>

#include "io/report/report.hpp"

namespace spikesim::report_detail {

extern const char* const kKvNote;
std::string energy_text(double pj);
const std::vector<std::string>& row_header();
std::vector<std::string> row_cells(const CountsRow& r);

}  // namespace spikesim::report_detail
