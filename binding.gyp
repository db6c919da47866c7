{
  # The addon links the system RocksDB (Debian librocksdb-dev 7.8.3), found with
  # pkg-config; '-lrocksdb' is the fallback when pkg-config knows nothing about it.
  #
  # Two addons from the same sources: keyed_state_native, the one the package loads, and
  # keyed_state_bench, which adds the benchmarks' raw C++ loop (native/bench_loop.cc,
  # benchRawLoop) so that the production addon has no bench entry points. The bench one is
  # built only when `npm run bench` asks for it (setup.mjs --bench passes
  # `--ks_bench=yes` to node-gyp, which makes it a gyp variable).
  'variables': {
    'ks_bench%': 'no',
    # libdeflate's CRC-32 (native/crc32.cc) when the system has it (Debian libdeflate-dev), else zlib's.
    'ks_libdeflate%': "<!(pkg-config --exists libdeflate && echo yes || echo no)",
    'ks_sources': [
      'native/addon.cc',
      'native/addon_data.cc',
      'native/args.cc',
      'native/batch.cc',
      'native/checkpoint_async.cc',
      'native/db.cc',
      'native/db_core.cc',
      'native/db_files.cc',
      'native/iterator.cc',
      'native/memory_budget.cc',
      'native/merge_operator.cc',
      'native/options.cc',
      'native/snapshot.cc',
      'native/block_codec.cc',
      'native/crc32.cc',
      'native/sst_writer.cc',
      'native/sst_writer_async.cc',
      'native/status.cc',
      'native/ttl_compaction_filter.cc',
    ],
  },
  'target_defaults': {
    'include_dirs': [
      "<!(node -p \"require('node-addon-api').include_dir\")",
    ],
    'defines': [
      # Type tags (napi_type_tag_object) need Node-API 8.
      'NAPI_VERSION=8',
      # C++ exceptions: every failure path is a `throw` that node-addon-api turns
      # into a JS exception, instead of checking IsExceptionPending after each call.
      'NODE_ADDON_API_CPP_EXCEPTIONS',
      # Also catch std::exception (std::bad_alloc) in node-addon-api's callback
      # wrappers, so nothing reaches std::terminate.
      'NODE_ADDON_API_CPP_EXCEPTIONS_ALL',
      'NODE_ADDON_API_DISABLE_DEPRECATED',
    ],
    # node-gyp's common.gypi turns RTTI and exceptions off. We need exceptions
    # (see above) and RTTI: Debian's librocksdb is built with RTTI and our
    # subclass of rocksdb::MergeOperator must emit typeinfo that refers to it.
    'cflags!': ['-fno-exceptions', '-fno-rtti'],
    'cflags_cc!': ['-fno-exceptions', '-fno-rtti', '-std=gnu++17'],
    'cflags_cc': [
      '-std=c++17', '-fexceptions', '-frtti', '-Wall', '-Wextra', '-Wno-unused-parameter',
      "<!@(pkg-config --cflags rocksdb 2>/dev/null || true)",
    ],
    'libraries': [
      "<!@(pkg-config --libs rocksdb 2>/dev/null || echo -lrocksdb)",
      # block_codec.cc: Debian's librocksdb-dev depends on libsnappy-dev and zlib1g-dev.
      '-lsnappy', '-lz',
    ],
    'xcode_settings': {
      'GCC_ENABLE_CPP_EXCEPTIONS': 'YES',
      'GCC_ENABLE_CPP_RTTI': 'YES',
      'CLANG_CXX_LANGUAGE_STANDARD': 'c++17',
      'MACOSX_DEPLOYMENT_TARGET': '11.0',
      'OTHER_CFLAGS': ["<!@(pkg-config --cflags rocksdb 2>/dev/null || true)"],
    },
  },
  'targets': [
    {
      'target_name': 'keyed_state_native',
      'sources': ['<@(ks_sources)'],
    },
  ],
  'conditions': [
    ['ks_libdeflate=="yes"', {
      'target_defaults': {
        'defines': ['KS_HAVE_LIBDEFLATE'],
        'libraries': ["<!@(pkg-config --libs libdeflate)"],
      },
    }],
    ['ks_bench=="yes"', {
      'targets': [
        {
          'target_name': 'keyed_state_bench',
          'sources': ['<@(ks_sources)', 'native/bench_loop.cc'],
          'defines': ['KS_BENCH_LOOP'],
        },
      ],
    }],
  ],
}
