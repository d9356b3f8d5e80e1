#include "exporters/http/index_page.h"

namespace leakwatch::exporters {
namespace {

void AppendEscaped(std::string_view text, std::string* out) {
  for (char c : text) {
    switch (c) {
      case '&':
        *out += "&amp;";
        break;
      case '<':
        *out += "&lt;";
        break;
      case '>':
        *out += "&gt;";
        break;
      case '"':
        *out += "&quot;";
        break;
      case '\'':
        *out += "&#39;";
        break;
      default:
        out->push_back(c);
    }
  }
}

}  // namespace

std::string RenderIndexPage(std::string_view title, const std::vector<std::string>& paths) {
  std::string html = "<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"><title>";
  AppendEscaped(title, &html);
  html += "</title></head>\n<body>\n<h1>";
  AppendEscaped(title, &html);
  html += "</h1>\n<ul>\n";
  for (const auto& path : paths) {
    html += "<li><a href=\"";
    AppendEscaped(path, &html);
    html += "\">";
    AppendEscaped(path, &html);
    html += "</a></li>\n";
  }
  html += "</ul>\n</body>\n</html>\n";
  return html;
}

}  // namespace leakwatch::exporters
