// The merge operator of every column family: concatenation. List state appends
// elements that are already framed (u32be length | bytes), so the merged value
// is the existing value followed by the operands in order, and appending never
// reads the old value.
#pragma once

#include <rocksdb/merge_operator.h>

namespace ks {

class ConcatMergeOperator : public rocksdb::MergeOperator {
 public:
  bool FullMergeV2(const MergeOperationInput& in, MergeOperationOutput* out) const override;
  bool PartialMergeMulti(const rocksdb::Slice& key, const std::deque<rocksdb::Slice>& operands,
                         std::string* newValue, rocksdb::Logger* logger) const override;
  bool PartialMerge(const rocksdb::Slice& key, const rocksdb::Slice& left,
                    const rocksdb::Slice& right, std::string* newValue,
                    rocksdb::Logger* logger) const override;
  // Persisted in the OPTIONS file; changing it makes RocksDB refuse old DBs.
  const char* Name() const override { return "keyed-state.concat"; }
};

}  // namespace ks
