// flashjit_fuzz_replay: the deterministic fuzz run CTest does (tests/fuzz/README.md). It replays
// every file of a target's corpus, then mutations of them made from a fixed seed, and fails when
// any input is a violation (fuzz_targets.h): a corpus file named valid-* that is not accepted, one
// named invalid-* that is not rejected, an input that takes longer than a hang, a crash (the
// process dies; the note on stderr names the input). It prints how many inputs it tried and what
// became of them, and saves each violating input under --out.
//
//   flashjit_fuzz_replay --target manifest --corpus tests/fuzz/corpus/manifest --out DIR
//                        [--mutations 3000] [--seed 1] [--hang-seconds 10] [--error-kinds 12]
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <llvm/Support/FileSystem.h>
#include <llvm/Support/Path.h>

#include "fuzz/crash_note.h"
#include "fuzz/fuzz_targets.h"
#include "fuzz/mutator.h"

namespace flashjit::fuzz {
namespace {

struct Options {
  std::string target;
  std::string corpus;
  std::string out;
  size_t mutations = 3000;
  uint64_t seed = 1;
  double hang_seconds = 10;
  size_t error_kinds_shown = 12;
};

struct SeedFile {
  std::string name;
  std::string bytes;
};

// What the name of a corpus file promises: valid-* is accepted, invalid-* rejected; other files
// (found by libFuzzer, say) only must not be violations.
std::optional<Outcome> promised(const std::string& name) {
  if (llvm::StringRef(name).startswith("valid-")) return Outcome::accepted;
  if (llvm::StringRef(name).startswith("invalid-")) return Outcome::rejected;
  return std::nullopt;
}

std::string hex_prefix(const std::string& bytes, size_t max_bytes = 96) {
  static const char digits[] = "0123456789abcdef";
  std::string hex;
  for (size_t i = 0; i < std::min(bytes.size(), max_bytes); ++i) {
    hex += digits[static_cast<unsigned char>(bytes[i]) >> 4];
    hex += digits[static_cast<unsigned char>(bytes[i]) & 15];
    if (i % 4 == 3) hex += ' ';
  }
  if (bytes.size() > max_bytes) hex += "...";
  return hex;
}

// An error message with its numbers and quoted values left out, cut short: errors of one kind
// ("manifest: problems[N].head_dim: N is not a multiple of N in N..N") count together.
std::string error_kind(const std::string& message) {
  std::string kind;
  bool quoted = false;
  for (size_t i = 0; i < message.size() && kind.size() < 100; ++i) {
    const char c = message[i];
    if (c == '\'') {
      quoted = !quoted;
      if (quoted) kind += "'...'";
      continue;
    }
    if (quoted) continue;
    if (std::isdigit(static_cast<unsigned char>(c))) {
      if (kind.empty() || kind.back() != 'N') kind += 'N';
      continue;
    }
    kind += c == '\n' ? ' ' : c;
  }
  return kind;
}

bool write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(out);
}

// The corpus's regular files, by name, so that every run sees them in the same order.
std::vector<SeedFile> read_corpus(const std::string& directory, std::string& error) {
  std::vector<SeedFile> files;
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(directory, ec), end; it != end && !ec; it.increment(ec)) {
    if (it->type() != llvm::sys::fs::file_type::regular_file) continue;
    std::ifstream in(it->path(), std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    files.push_back({llvm::sys::path::filename(it->path()).str(), bytes.str()});
  }
  if (ec) error = "cannot read the corpus " + directory + ": " + ec.message();
  std::sort(files.begin(), files.end(), [](const SeedFile& a, const SeedFile& b) { return a.name < b.name; });
  if (files.empty() && error.empty()) error = "the corpus " + directory + " holds no file";
  return files;
}

class Replay {
 public:
  Replay(const Options& options, const Target& target) : options_(options), target_(target) {}

  // Where the input that killed the process or hung is saved.
  static std::string current_input_path(const Options& options, const Target& target) {
    return options.out + "/" + target.name + "-stopped-on.bin";
  }

  // Runs one input; `origin` says where it came from ("corpus valid-x.json", "mutation 12 of ...").
  void run(const std::string& origin, const std::string& bytes, std::optional<Outcome> expected) {
    // Should the process die or hang on it, the note names the input and its bytes are saved.
    set_current_input("flashjit_fuzz_replay: " + std::string(target_.name) + " stopped on " + origin + " (" +
                          std::to_string(bytes.size()) + " bytes), saved to " + current_input_path(options_, target_),
                      bytes, hang_alarm_seconds());
    const auto start = std::chrono::steady_clock::now();
    Verdict verdict = run_target(target_, bytes);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    clear_current_input();
    ++tried_;
    if (seconds > slowest_seconds_) {
      slowest_seconds_ = seconds;
      slowest_origin_ = origin;
    }
    if (verdict.outcome != Outcome::violation && seconds > options_.hang_seconds)
      verdict = Verdict::violation("took " + std::to_string(seconds) + " s, more than the " +
                                   std::to_string(options_.hang_seconds) + " s a hang is");
    if (verdict.outcome != Outcome::violation && expected && verdict.outcome != *expected)
      verdict = Verdict::violation(std::string("its name promises ") + outcome_name(*expected) + ", but it was " +
                                   outcome_name(verdict.outcome) +
                                   (verdict.message.empty() ? "" : ": " + verdict.message));
    ++outcomes_[verdict.outcome];
    if (verdict.outcome == Outcome::rejected) ++errors_[error_kind(verdict.message)];
    if (verdict.outcome == Outcome::violation) report_violation(origin, bytes, verdict.message);
  }

  // The kinds of error the rejections got, most frequent first: what the run reached.
  std::vector<std::pair<size_t, std::string>> error_kinds() const {
    std::vector<std::pair<size_t, std::string>> kinds;
    for (const auto& [kind, count] : errors_) kinds.emplace_back(count, kind);
    std::sort(kinds.begin(), kinds.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    return kinds;
  }

  size_t tried() const { return tried_; }
  size_t count(Outcome outcome) const {
    auto it = outcomes_.find(outcome);
    return it == outcomes_.end() ? 0 : it->second;
  }
  double slowest_seconds() const { return slowest_seconds_; }
  const std::string& slowest_origin() const { return slowest_origin_; }

 private:
  void report_violation(const std::string& origin, const std::string& bytes, const std::string& what) {
    const size_t number = count(Outcome::violation);
    const std::string saved =
        options_.out + "/" + target_.name + "-violation-" + std::to_string(number) + ".bin";
    const bool wrote = write_bytes(saved, bytes);
    constexpr size_t kShown = 20;
    if (number > kShown) return;
    std::cout << "VIOLATION " << target_.name << " " << origin << ": " << what << "\n  " << bytes.size()
              << " bytes: " << hex_prefix(bytes) << "\n  " << (wrote ? "saved to " + saved : "could not save to " + saved)
              << "\n";
    if (number == kShown) std::cout << "(further violations are saved but not shown)\n";
  }

  // An input that runs this long is stopped (one slower than --hang-seconds that ends is a
  // violation too, reported with the others).
  unsigned hang_alarm_seconds() const { return static_cast<unsigned>(options_.hang_seconds) * 3; }

  const Options& options_;
  const Target& target_;
  size_t tried_ = 0;
  std::map<Outcome, size_t> outcomes_;
  std::map<std::string, size_t> errors_;
  double slowest_seconds_ = 0;
  std::string slowest_origin_;
};

std::string describe(const std::vector<Mutation>& applied) {
  std::string text;
  for (Mutation m : applied) text += (text.empty() ? "" : "+") + std::string(mutation_name(m));
  return text;
}

// --seed mixed with the target's name (FNV-1a, the same everywhere, unlike std::hash), so that each
// target gets its own sequence from the same --seed.
uint64_t mutation_seed(uint64_t seed, const std::string& target) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (char c : target) hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  return hash ^ seed;
}

int usage(const std::string& why) {
  std::cerr << "flashjit_fuzz_replay: " << why << "\n"
            << "usage: flashjit_fuzz_replay --target NAME --corpus DIR --out DIR [--mutations N] [--seed S]"
               " [--hang-seconds T] [--error-kinds N]\ntargets:";
  for (const Target& target : all_targets()) std::cerr << " " << target.name;
  std::cerr << "\n";
  return 2;
}

bool parse_count(const std::string& text, uint64_t& value) {
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos) return false;
  value = std::stoull(text);
  return true;
}

int replay_main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return usage(flag + " needs a value");
    const std::string value = argv[++i];
    uint64_t number = 0;
    if (flag == "--target") options.target = value;
    else if (flag == "--corpus") options.corpus = value;
    else if (flag == "--out") options.out = value;
    else if (flag == "--mutations" && parse_count(value, number)) options.mutations = number;
    else if (flag == "--seed" && parse_count(value, number)) options.seed = number;
    else if (flag == "--error-kinds" && parse_count(value, number)) options.error_kinds_shown = number;
    else if (flag == "--hang-seconds" && parse_count(value, number) && number > 0) options.hang_seconds = double(number);
    else return usage("unknown option or bad value: " + flag + " " + value);
  }
  if (options.target.empty() || options.corpus.empty() || options.out.empty())
    return usage("--target, --corpus and --out are required");
  const Target* target = find_target(options.target);
  if (target == nullptr) return usage("no target named '" + options.target + "'");
  if (std::error_code ec = llvm::sys::fs::create_directories(options.out))
    return usage("cannot create " + options.out + ": " + ec.message());
  std::string error;
  const std::vector<SeedFile> corpus = read_corpus(options.corpus, error);
  if (!error.empty()) return usage(error);

  quiet_flashjit_log();
  install_crash_note(Replay::current_input_path(options, *target));
  const auto start = std::chrono::steady_clock::now();
  Replay replay(options, *target);
  for (const SeedFile& file : corpus) replay.run("corpus " + file.name, file.bytes, promised(file.name));
  const size_t corpus_accepted = replay.count(Outcome::accepted);

  std::vector<std::string> seeds;
  for (const SeedFile& file : corpus) seeds.push_back(file.bytes);
  Mutator mutator(mutation_seed(options.seed, options.target), seeds);
  std::map<Mutation, size_t> by_kind;
  for (size_t i = 0; i < options.mutations; ++i) {
    const size_t seed_index = mutator.pick_seed();
    std::vector<Mutation> applied;
    const std::string input = mutator.mutate(corpus[seed_index].bytes, applied);
    for (Mutation m : applied) ++by_kind[m];
    replay.run("mutation " + std::to_string(i) + " (" + describe(applied) + ") of " + corpus[seed_index].name, input,
               std::nullopt);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::printf("fuzz replay %s: seed %llu, %zu corpus files, %zu mutations\n", target->name,
              static_cast<unsigned long long>(options.seed), corpus.size(), options.mutations);
  std::printf("  inputs tried %zu: accepted %zu, rejected %zu, violations %zu\n", replay.tried(),
              replay.count(Outcome::accepted), replay.count(Outcome::rejected), replay.count(Outcome::violation));
  std::printf("  of them corpus files %zu (accepted %zu), mutations %zu (accepted %zu)\n", corpus.size(),
              corpus_accepted, options.mutations, replay.count(Outcome::accepted) - corpus_accepted);
  std::printf("  mutations applied:");
  for (int k = 0; k < kMutationKinds; ++k)
    std::printf(" %s %zu", mutation_name(static_cast<Mutation>(k)), by_kind[static_cast<Mutation>(k)]);
  const auto kinds = replay.error_kinds();
  std::printf("\n  rejections by error, %zu kinds:\n", kinds.size());
  for (size_t i = 0; i < kinds.size() && i < options.error_kinds_shown; ++i)
    std::printf("    %6zu  %s\n", kinds[i].first, kinds[i].second.c_str());
  if (kinds.size() > options.error_kinds_shown)
    std::printf("    (%zu more kinds; --error-kinds N shows more)\n", kinds.size() - options.error_kinds_shown);
  std::printf("  slowest input %.3f s (%s); all of it %.1f s\n", replay.slowest_seconds(),
              replay.slowest_origin().c_str(), seconds);
  if (replay.count(Outcome::violation) > 0) {
    std::printf("fuzz replay %s: FAILED, %zu violations (saved under %s)\n", target->name,
                replay.count(Outcome::violation), options.out.c_str());
    return 1;
  }
  std::printf("fuzz replay %s: ok, nothing aborted, hung or broke an invariant\n", target->name);
  return 0;
}

}  // namespace
}  // namespace flashjit::fuzz

int main(int argc, char** argv) { return flashjit::fuzz::replay_main(argc, argv); }
