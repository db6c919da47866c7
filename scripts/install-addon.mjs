#!/usr/bin/env node
// The npm "install" hook: builds the native addon where the package is
// installed, in our clone and in every project that depends on keyed-state.
// It never installs system packages unless asked (KEYED_STATE_INSTALL_ROCKSDB=1,
// as root on Debian/Ubuntu): a dependency must not run apt-get behind its
// user's back. Without RocksDB it names the packages to install and fails.
// KEYED_STATE_PREBUILT_ADDON=<dir> reuses an addon compiled from the same
// sources for the same Node (see scripts/addon.mjs).
import { ensureAddon, rocksdbInstalled, isRootOnDebian, aptInstall, ADDON_PACKAGES, ROCKSDB_MISSING } from './addon.mjs'

// Inside our own set-up (scripts/setup.mjs runs npm install), setup builds the addon itself.
if (process.env.KEYED_STATE_SETUP === '1') process.exit(0)

// KEYED_STATE_ASSUME_NO_ROCKSDB=1 is for tests: it behaves as on a machine without RocksDB.
const haveRocksDB = process.env.KEYED_STATE_ASSUME_NO_ROCKSDB !== '1' && rocksdbInstalled()
if (!haveRocksDB) {
  if (process.env.KEYED_STATE_INSTALL_ROCKSDB === '1' && isRootOnDebian()) {
    aptInstall(ADDON_PACKAGES)
  } else {
    process.stderr.write(ROCKSDB_MISSING)
    process.exit(1)
  }
}
ensureAddon()
