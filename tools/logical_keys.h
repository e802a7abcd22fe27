// The keys a KV-cache call attends to, as `flashjit run` checks the CPU backend without trusting
// its cache code: each sequence's cached rows gathered through its pages (or its dense cache's
// batch entry), then its appended rows, packed in order, with the same call as a plain ragged batch
// over them.
#pragma once

#include <cstdint>
#include <vector>

#include "flashjit/types.h"

namespace flashjit::tools {

struct LogicalKeys {
  std::vector<uint8_t> k, v;           // [tokens, kv_heads, head_dim], the call's dtype
  std::vector<int32_t> cu_seqlens_k;   // batch + 1 offsets into them
  AttentionArgs args;                  // the call over them: points into this object

  LogicalKeys() = default;
  LogicalKeys(const LogicalKeys&) = delete;
  LogicalKeys& operator=(const LogicalKeys&) = delete;
  LogicalKeys(LogicalKeys&&) = default;  // the vectors keep their memory, so args stays valid
};

// `normalized`: a validated KV-cache call on host memory, read before it runs (the appended rows
// come from k_new and v_new, not from the cache).
LogicalKeys gather_logical_keys(const AttentionArgs& normalized);

}  // namespace flashjit::tools
