#include "northbound/web_assets.h"

namespace pulse::northbound {

// Defined in the generated web_assets_data.cc (northbound/web/embed.cmake).
extern const WebAsset kWebAssets[];
extern const size_t kWebAssetCount;

const WebAsset* FindWebAsset(absl::string_view path) {
  if (path == "/") path = "/index.html";
  for (size_t i = 0; i < kWebAssetCount; ++i) {
    if (path == kWebAssets[i].path) return &kWebAssets[i];
  }
  return nullptr;
}

}  // namespace pulse::northbound
