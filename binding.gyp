{
  # The Node addon. Baseline x86-64 for everything except the per-ISA kernel libraries, which
  # are compiled with their own flags and only called after CPU detection (native/cpu/dispatch).
  "variables": {
    "lfm_common_cflags": ["-O3", "-fno-math-errno", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter"]
  },
  "target_defaults": {
    "cflags_cc": ["-std=c++17"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
    "cflags!": ["-fno-exceptions"],
    "defines": ["NAPI_VERSION=8"],
    "conditions": [
      ["OS=='mac'", {
        "xcode_settings": {
          "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
          "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
          "GCC_ENABLE_CPP_RTTI": "YES",
          "MACOSX_DEPLOYMENT_TARGET": "11.0",
          "OTHER_CFLAGS": ["-O3", "-fno-math-errno", "-fvisibility=hidden"]
        }
      }],
      ["OS=='win'", {
        "defines": ["NOMINMAX", "_CRT_SECURE_NO_WARNINGS"],
        "msvs_settings": {"VCCLCompilerTool": {"ExceptionHandling": 1, "AdditionalOptions": ["/std:c++17", "/O2"]}}
      }]
    ]
  },
  "targets": [
    {
      "target_name": "lfm2_cpu_avx2",
      "type": "static_library",
      "sources": ["<!@(node scripts/list-sources.mjs native/cpu/avx2)"],
      "cflags": ["<@(lfm_common_cflags)", "-fPIC", "-mavx2", "-mfma", "-mf16c"],
      "xcode_settings": {"OTHER_CPLUSPLUSFLAGS": ["-mavx2", "-mfma", "-mf16c"]},
      "msvs_settings": {"VCCLCompilerTool": {"AdditionalOptions": ["/arch:AVX2"]}},
      "conditions": [["target_arch!='x64'", {"sources=": []}]]
    },
    {
      "target_name": "lfm2_cpu_avx512",
      "type": "static_library",
      "sources": ["<!@(node scripts/list-sources.mjs native/cpu/avx512)"],
      "cflags": ["<@(lfm_common_cflags)", "-fPIC", "-mavx2", "-mfma", "-mf16c", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq"],
      "xcode_settings": {"OTHER_CPLUSPLUSFLAGS": ["-mavx2", "-mfma", "-mf16c", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq"]},
      "msvs_settings": {"VCCLCompilerTool": {"AdditionalOptions": ["/arch:AVX512"]}},
      "conditions": [["target_arch!='x64'", {"sources=": []}]]
    },
    {
      "target_name": "lfm2_cpu_avx512vnni",
      "type": "static_library",
      "sources": ["<!@(node scripts/list-sources.mjs native/cpu/avx512vnni)"],
      "cflags": ["<@(lfm_common_cflags)", "-fPIC", "-mavx2", "-mfma", "-mf16c", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx512vnni", "-mavx512vbmi"],
      "xcode_settings": {"OTHER_CPLUSPLUSFLAGS": ["-mavx2", "-mfma", "-mf16c", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx512vnni", "-mavx512vbmi"]},
      "msvs_settings": {"VCCLCompilerTool": {"AdditionalOptions": ["/arch:AVX512"]}},
      "conditions": [["target_arch!='x64'", {"sources=": []}]]
    },
    {
      "target_name": "lfm2",
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except",
        "lfm2_cpu_avx2",
        "lfm2_cpu_avx512",
        "lfm2_cpu_avx512vnni"
      ],
      "sources": ["<!@(node scripts/list-sources.mjs native/core native/ops native/cpu native/cpu/scalar native/models native/napi native/cuda)"],
      "cflags": ["<@(lfm_common_cflags)"],
      "conditions": [
        # Linux: libstdc++ and libgcc linked in (hidden), so the binary needs only glibc and
        # runs on distributions older than the build machine's compiler.
        ["OS=='linux'", {
          "ldflags": ["-pthread", "-static-libstdc++", "-static-libgcc", "-Wl,--exclude-libs,ALL"],
          "libraries": ["-ldl"]
        }]
      ]
    }
  ]
}
