#pragma once
// The landing page served at "/" (as node_exporter has one): a tiny HTML page linking to every route.
//
// Thread-safety: pure function. Cost: linear in the size of the page.

#include <string>
#include <string_view>
#include <vector>

namespace leakwatch::exporters {

// An HTML document titled `title` with one link per path, in the given order. Title and paths are
// HTML-escaped.
std::string RenderIndexPage(std::string_view title, const std::vector<std::string>& paths);

}  // namespace leakwatch::exporters
