#include "merge_operator.h"

namespace ks {

namespace {

template <typename Operands>
void AppendAll(const Operands& operands, std::string* out) {
  size_t total = out->size();
  for (const auto& op : operands) total += op.size();
  out->reserve(total);
  for (const auto& op : operands) out->append(op.data(), op.size());
}

}  // namespace

bool ConcatMergeOperator::FullMergeV2(const MergeOperationInput& in,
                                      MergeOperationOutput* out) const {
  const auto& operands = in.operand_list;
  // A single operand on nothing is its own result: point at it instead of copying.
  if (in.existing_value == nullptr && operands.size() == 1) {
    out->existing_operand = operands.front();
    return true;
  }
  std::string& result = out->new_value;
  result.clear();
  size_t total = in.existing_value == nullptr ? 0 : in.existing_value->size();
  for (const auto& op : operands) total += op.size();
  result.reserve(total);
  if (in.existing_value != nullptr) result.append(in.existing_value->data(), in.existing_value->size());
  for (const auto& op : operands) result.append(op.data(), op.size());
  return true;
}

bool ConcatMergeOperator::PartialMergeMulti(const rocksdb::Slice& /*key*/,
                                            const std::deque<rocksdb::Slice>& operands,
                                            std::string* newValue,
                                            rocksdb::Logger* /*logger*/) const {
  newValue->clear();
  AppendAll(operands, newValue);
  return true;
}

bool ConcatMergeOperator::PartialMerge(const rocksdb::Slice& /*key*/, const rocksdb::Slice& left,
                                       const rocksdb::Slice& right, std::string* newValue,
                                       rocksdb::Logger* /*logger*/) const {
  newValue->clear();
  newValue->reserve(left.size() + right.size());
  newValue->append(left.data(), left.size());
  newValue->append(right.data(), right.size());
  return true;
}

}  // namespace ks
