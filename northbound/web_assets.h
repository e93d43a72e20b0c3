// The web view's static files (northbound/web/*), embedded into the binary at build time: CMake
// turns each file into bytes in a generated web_assets_data.cc (northbound/web/embed.cmake), so
// the daemon serves the page with nothing fetched from disk or the network.
#ifndef PULSE_NORTHBOUND_WEB_ASSETS_H_
#define PULSE_NORTHBOUND_WEB_ASSETS_H_

#include <cstddef>

#include "absl/strings/string_view.h"

namespace pulse::northbound {

struct WebAsset {
  const char* path;          // URL path: "/index.html", "/app.js"
  const char* content_type;  // "text/html; charset=utf-8", ...
  const unsigned char* data;
  size_t size;
};

// The asset served at `path`, or null. "/" is "/index.html".
const WebAsset* FindWebAsset(absl::string_view path);

}  // namespace pulse::northbound

#endif  // PULSE_NORTHBOUND_WEB_ASSETS_H_
