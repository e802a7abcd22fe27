#include "tuner/manifest.h"

#include <set>

#include <llvm/Support/FormatVariadic.h>
#include <nlohmann/json.hpp>

#include "problem/gqa_packing.h"
#include "support/error.h"
#include "support/names.h"
#include "support/quote.h"
#include "support/untrusted_input.h"

namespace flashjit::tuner {
namespace {

using nlohmann::json;

llvm::Error error_at(const std::string& where, const std::string& why) {
  return make_error(ErrorCode::invalid_argument, "manifest: " + where + ": " + why);
}

llvm::Expected<int> positive_int(const json& object, const std::string& where, const char* field, int fallback,
                                 bool required) {
  auto it = object.find(field);
  const std::string at = where + "." + field;
  if (it == object.end()) {
    if (required) return error_at(at, "missing");
    return fallback;
  }
  if (!it->is_number_integer()) return error_at(at, "expected an integer, got " + std::string(it->type_name()));
  const long long value = it->get<long long>();
  if (value <= 0 || value > (1 << 30)) return error_at(at, llvm::formatv("expected a positive integer, got {0}", value));
  return static_cast<int>(value);
}

llvm::Expected<bool> boolean_field(const json& object, const std::string& where, const char* field) {
  auto it = object.find(field);
  if (it == object.end()) return false;
  if (!it->is_boolean()) return error_at(where + "." + field, "expected true or false");
  return it->get<bool>();
}

// "window": [left, right], each -1 (unbounded) or a key count, not both -1.
llvm::Error parse_window(const json& p, const std::string& where, ScoreModValues& values) {
  auto it = p.find("window");
  if (it == p.end()) return llvm::Error::success();
  const std::string at = where + ".window";
  if (!it->is_array() || it->size() != 2)
    return error_at(at, "expected [left, right]: the keys a query sees before and after its diagonal, -1 for unbounded");
  int bounds[2] = {-1, -1};
  for (size_t i = 0; i < 2; ++i) {
    const json& bound = (*it)[i];
    const std::string side = llvm::formatv("{0}[{1}]", at, i).str();
    if (!bound.is_number_integer()) return error_at(side, "expected an integer, got " + std::string(bound.type_name()));
    const long long value = bound.get<long long>();
    if (value < -1 || value > (1 << 30))
      return error_at(side, llvm::formatv("expected -1 (unbounded) or a key count up to {0}, got {1}", 1 << 30, value));
    bounds[i] = static_cast<int>(value);
  }
  if (bounds[0] == -1 && bounds[1] == -1) return error_at(at, "[-1, -1] bounds nothing: leave the field out for no window");
  values.window_left = bounds[0];
  values.window_right = bounds[1];
  return llvm::Error::success();
}

// "softcap": a finite number above 0.
llvm::Error parse_softcap(const json& p, const std::string& where, ScoreModValues& values) {
  auto it = p.find("softcap");
  if (it == p.end()) return llvm::Error::success();
  const std::string at = where + ".softcap";
  if (!it->is_number()) return error_at(at, "expected a number above 0, got " + std::string(it->type_name()));
  const double value = it->get<double>();
  if (!(value > 0.0 && value <= 1e30))
    return error_at(at, llvm::formatv("expected a number above 0 (leave the field out for none), got {0}", it->dump()));
  values.softcap = static_cast<float>(value);
  return llvm::Error::success();
}

// The problems of one entry: its features and sizes, once per listed length.
llvm::Error parse_entry(const json& p, const std::string& where, std::vector<Problem>& out) {
  if (!p.is_object()) return error_at(where, "expected an object");
  static const std::set<std::string> known = {"dtype",  "head_dim", "causal",  "num_heads", "num_kv_heads",
                                              "batch",  "seqlen",   "window",  "softcap",   "alibi",
                                              "varlen", "kv_cache", "page_size", "append",  "seqlen_q"};
  for (auto it = p.begin(); it != p.end(); ++it)
    if (!known.count(it.key())) return error_at(where + "." + quote_prefix(it.key()), "unknown field");

  ProblemFeatures features;
  auto dtype = p.find("dtype");
  if (dtype == p.end()) return error_at(where + ".dtype", "missing");
  if (!dtype->is_string()) return error_at(where + ".dtype", "expected a string");
  auto parsed = parse_dtype(dtype->get<std::string>());
  if (!parsed) return error_at(where + ".dtype", llvm::toString(parsed.takeError()));
  features.dtype = *parsed;

  auto head_dim = positive_int(p, where, "head_dim", 0, true);
  if (!head_dim) return head_dim.takeError();
  if (*head_dim % 8 != 0 || *head_dim > 256)
    return error_at(where + ".head_dim", llvm::formatv("{0} is not a multiple of 8 in 8..256", *head_dim));
  features.head_dim = *head_dim;

  if (auto causal = p.find("causal"); causal != p.end()) {
    if (!causal->is_boolean()) return error_at(where + ".causal", "expected true or false");
    features.mask = causal->get<bool>() ? MaskKind::causal : MaskKind::none;
  }
  // Issue 14: the score modifiers' values, ALiBi (geometric slopes when tuned) and a ragged batch,
  // whose `seqlen` lengths are then the longest sequence's (a ragged problem is keyed by them) and
  // whose `batch` is its number of sequences.
  ScoreModValues values;
  if (llvm::Error err = parse_window(p, where, values)) return err;
  if (llvm::Error err = parse_softcap(p, where, values)) return err;
  auto alibi = boolean_field(p, where, "alibi");
  if (!alibi) return alibi.takeError();
  features.alibi = *alibi;
  auto varlen = boolean_field(p, where, "varlen");
  if (!varlen) return varlen.takeError();
  features.ragged = *varlen;

  // Issue 15: a KV cache ("kv_cache"; "page_size" pages it, "append" appends that many keys, each
  // implying it), and "seqlen_q", the query rows of every length (a decode step's 1), whose
  // `seqlen` lengths are then the keys.
  ProblemShape shape;
  auto cached = boolean_field(p, where, "kv_cache");
  if (!cached) return cached.takeError();
  auto page = positive_int(p, where, "page_size", 0, false);
  if (!page) return page.takeError();
  if (*page > (1 << 20) || (*page & (*page - 1)) != 0)
    return error_at(where + ".page_size", llvm::formatv("{0} is not a power of two from 1 to 1048576", *page));
  auto appended = positive_int(p, where, "append", 0, false);
  if (!appended) return appended.takeError();
  auto query_rows = positive_int(p, where, "seqlen_q", 0, false);
  if (!query_rows) return query_rows.takeError();
  features.paged = *page > 0;
  features.append = *appended > 0;
  features.kv_cache = *cached || features.paged || features.append;
  shape.page_size = *page;
  shape.seqlen_new = *appended;
  auto heads = positive_int(p, where, "num_heads", 1, false);
  if (!heads) return heads.takeError();
  auto kv_heads = positive_int(p, where, "num_kv_heads", *heads, false);
  if (!kv_heads) return kv_heads.takeError();
  if (*heads % *kv_heads != 0)
    return error_at(where + ".num_kv_heads", llvm::formatv("num_heads {0} is not a multiple of {1}", *heads, *kv_heads));
  auto batch = positive_int(p, where, "batch", 1, false);
  if (!batch) return batch.takeError();
  shape.num_heads = *heads;
  shape.num_kv_heads = *kv_heads;
  shape.batch = *batch;

  auto seqlen = p.find("seqlen");
  if (seqlen == p.end()) return error_at(where + ".seqlen", "missing");
  const json lengths = seqlen->is_array() ? *seqlen : json::array({*seqlen});
  if (lengths.empty()) return error_at(where + ".seqlen", "empty list");
  for (size_t i = 0; i < lengths.size(); ++i) {
    const std::string at = seqlen->is_array() ? llvm::formatv("{0}.seqlen[{1}]", where, i).str() : where + ".seqlen";
    if (!lengths[i].is_number_integer() || lengths[i].get<long long>() <= 0 || lengths[i].get<long long>() > (1 << 24))
      return error_at(at, "expected a positive integer up to 16777216");
    shape.seqlen_q = shape.seqlen_k = lengths[i].get<int>();
    if (*query_rows > 0) shape.seqlen_q = *query_rows;
    // The checks every problem passes beyond the manifest's own (the launch grid's limits).
    auto problem = Problem::of_shape(features, shape, values);
    if (!problem) return error_at(where, llvm::toString(problem.takeError()));
    // A decode step's calls run GQA-packed (problem/gqa_packing.h): cached under the packed key.
    auto packed = gqa_packed(*problem);
    if (!packed) return error_at(where, llvm::toString(packed.takeError()));
    out.push_back(std::move(*packed));
  }
  return llvm::Error::success();
}

}  // namespace

llvm::Expected<std::vector<Problem>> parse_manifest(const std::string& text) {
  auto parsed = parse_json(text);
  if (!parsed) return with_prefix(parsed.takeError(), "manifest: ");
  const json root = std::move(*parsed);
  if (!root.is_object()) return error_at("(top level)", "expected an object");
  auto version = root.find("version");
  if (version == root.end()) return error_at("version", "missing");
  // The value itself only when it is a number: anything else may be huge (a 50 MB string).
  if (!version->is_number_integer())
    return error_at("version", llvm::formatv("this FlashJIT reads version {0}, got {1}", kManifestVersion,
                                             version->type_name()));
  if (version->get<long long>() != kManifestVersion)
    return error_at("version", llvm::formatv("this FlashJIT reads version {0}, got {1}", kManifestVersion,
                                             version->dump()));
  auto problems = root.find("problems");
  if (problems == root.end()) return error_at("problems", "missing");
  if (!problems->is_array()) return error_at("problems", "expected a list");
  if (problems->empty()) return error_at("problems", "empty list");
  std::vector<Problem> out;
  for (size_t i = 0; i < problems->size(); ++i)
    if (llvm::Error err = parse_entry((*problems)[i], llvm::formatv("problems[{0}]", i).str(), out)) return err;
  return out;
}

}  // namespace flashjit::tuner
