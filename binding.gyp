# binding.gyp — the native socket addon (layer: native): builds native/keyfleet-native.cc into
# build/Release/keyfleet_native.node with node-addon-api (C++ exceptions on), C++17, Node-API 8.
{
  "targets": [
    {
      "target_name": "keyfleet_native",
      "sources": ["native/keyfleet-native.cc"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
