#define FLASHJIT_HOST_EMULATION 1  // cuda_emulation.h insists on it
#include "emulation/cuda_emulation.h"

#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#endif

thread_local uint3 threadIdx;
thread_local uint3 blockIdx;
thread_local dim3 blockDim;
thread_local dim3 gridDim;

namespace flashjit {
namespace dev {
alignas(16) float smem[kEmulatedSharedBytes / sizeof(float)];
}  // namespace dev

namespace emulation {
namespace {

// The shared-memory poison is also the canary past the reserved bytes.
constexpr uint32_t kPoisonBits = kSharedMemoryPoison;

// A thread that waits this long for its turn is taken to be stuck (an emulation bug or a kernel
// that never reaches a barrier): fail loudly rather than hang CI.
constexpr std::chrono::seconds kWaitTimeout{120};

thread_local bool emulated_thread = false;  // a thread of an emulated block (not the launcher)

// Wakes one particular thread: the turn passes from thread to thread through these.
class Baton {
 public:
  void give() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      held_ = true;
    }
    // Notified after unlocking, so the woken thread does not run straight into a held mutex.
    handed_.notify_one();
  }
  void take() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!handed_.wait_for(lock, kWaitTimeout, [&] { return held_; }))
      fail("a thread waited for its turn for too long");
    held_ = false;
  }

 private:
  std::mutex mutex_;
  std::condition_variable handed_;
  bool held_ = false;
};

// One warp collective in progress: what the lanes deposited and what the last lane computed.
struct CollectiveRound {
  WarpCompute compute = nullptr;  // the collective's identity: every lane must call the same one
  const char* name = nullptr;     // for messages
  LanePayload inputs[32];
  LanePayload outputs[32];
};

struct Warp {
  // Two rounds used in turns: a lane deposits into a round again only after every lane has taken
  // its output from it (see warp_collective).
  CollectiveRound rounds[2];
  int at_collective = 0;  // lanes that deposited their input in the current collective
  int at_barrier = 0;     // lanes waiting at __syncthreads() in this phase
  int finished = 0;       // lanes that returned from the kernel
};

// A block's threads and its schedule. Exactly one thread of the block runs at a time; it hands the
// turn on at every __syncthreads(), warp collective (__shfl_xor_sync(), __syncwarp(), ldmatrix,
// mma) and at its end:
//  - within a warp the lanes take turns in lane order; at a collective the last lane computes every
//    lane's output from what all 32 deposited and hands back to lane 0, which takes its output;
//  - a warp runs until all its lanes wait at __syncthreads() (or finished), then the next warp runs;
//    when the last warp arrives the barrier opens and the next phase begins.
// Between two barriers the warps of a block may run in any order on a GPU; the emulation runs them
// in warp order in one phase and in reverse order in the next (and the other way round in every
// other block), so a missing barrier shows up, deterministically: the warp that runs first
// overwrites shared memory a later warp still needed, or reads what a later warp has not written.
// Lanes that diverge at a collective or barrier are reported. Only the running thread touches the
// bookkeeping below; the batons order one turn's writes before the next turn's reads.
struct Block {
  Block(int thread_count, unsigned linear_index, size_t dynamic_shared_bytes)
      : threads(thread_count), first_reverse(linear_index % 2 == 1), shared_bytes(dynamic_shared_bytes),
        warps(static_cast<size_t>(thread_count / 32)), batons(static_cast<size_t>(thread_count)) {}

  int warp_count() const { return static_cast<int>(warps.size()); }
  // The thread that starts the current warp turn (lane 0 of the warp whose turn it is).
  int first_thread_of_turn() const {
    const bool reverse = first_reverse != (phase % 2 == 1);
    return 32 * (reverse ? warp_count() - 1 - turn : turn);
  }

  const int threads;
  const bool first_reverse;
  const size_t shared_bytes;                    // what the launch reserved
  std::vector<Warp> warps;
  std::vector<Baton> batons;                    // per thread
  unsigned long long phase = 0;                 // __syncthreads() rounds completed
  int turn = 0;                                 // position of the running warp in this phase's order
  int arrived = 0;                              // threads waiting at __syncthreads()
  int finished = 0;                             // threads that returned from the kernel
};

thread_local Block* current_block = nullptr;
thread_local int collective_round = 0;  // which of its warp's two rounds this lane's next collective uses

int me() { return static_cast<int>(threadIdx.x); }
bool last_lane() { return threadIdx.x % 32 == 31; }
Warp& my_warp(Block& b) { return b.warps[threadIdx.x / 32]; }

// Gives the turn to `next` (-1: nobody) and, unless the caller finished, waits for it to come back.
void hand_over(Block& b, int next, bool wait) {
  if (next >= 0) b.batons[static_cast<size_t>(next)].give();
  if (wait) b.batons[static_cast<size_t>(me())].take();
}

// After the last lane of the running warp stopped (at the barrier or finished): the next warp's
// turn, the barrier opening, or (-1) the end of the block.
int next_after_warp(Block& b) {
  if (++b.turn < b.warp_count()) return b.first_thread_of_turn();
  if (b.arrived == 0) return -1;  // every warp finished
  if (b.arrived != b.threads - b.finished) fail("emulation: barrier bookkeeping is inconsistent");
  b.arrived = 0;
  ++b.phase;
  b.turn = 0;
  for (Warp& w : b.warps) w.at_barrier = 0;
  return b.first_thread_of_turn();
}

void poison_shared_memory() {
  uint32_t* words = reinterpret_cast<uint32_t*>(dev::smem);
  for (size_t i = 0; i < dev::kEmulatedSharedBytes / 4; ++i) words[i] = kPoisonBits;
}

bool shared_memory_untouched_from(size_t byte) {
  const uint32_t* words = reinterpret_cast<const uint32_t*>(dev::smem);
  for (size_t i = (byte + 3) / 4; i < dev::kEmulatedSharedBytes / 4; ++i)
    if (words[i] != kPoisonBits) return false;
  return true;
}

// Only one thread of a block runs at a time, so they may as well share one CPU: a hand-over then
// is a plain context switch instead of a wake-up on another CPU, several times faster (and the
// emulation's time is almost all hand-overs). `cpu` < 0: leave the thread where it is.
void pin_to_cpu(int cpu) {
#if defined(__linux__)
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);  // only a speed-up: failure is harmless
#else
  (void)cpu;
#endif
}

int current_cpu() {
#if defined(__linux__)
  return sched_getcpu();
#else
  return -1;
#endif
}

void run_thread(Block& b, const std::function<void()>& thread_body) {
  current_block = &b;
  collective_round = 0;
  begin_thread_cp_async();
  b.batons[static_cast<size_t>(me())].take();
  thread_body();
  if (b.arrived > 0) fail("a thread returned while other threads of its block wait at __syncthreads");
  Warp& w = my_warp(b);
  ++w.finished;
  ++b.finished;
  int next = me() + 1;
  if (last_lane()) {
    if (w.finished != 32) fail("the lanes of a warp diverged: only some returned from the kernel");
    next = next_after_warp(b);
  }
  current_block = nullptr;
  hand_over(b, next, false);
}

}  // namespace

void fail(const char* format, ...) {
  char what[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(what, sizeof what, format, args);
  va_end(args);
  if (emulated_thread)
    std::fprintf(stderr, "cuda_emulation: %s (block (%u, %u, %u), thread %u)\n", what, blockIdx.x, blockIdx.y,
                 blockIdx.z, threadIdx.x);
  else
    std::fprintf(stderr, "cuda_emulation: %s\n", what);
  std::fflush(stderr);
  std::abort();
}

void check_shared_chunk16(const void* address, const char* what) {
  const auto at = reinterpret_cast<std::uintptr_t>(address);
  const auto begin = reinterpret_cast<std::uintptr_t>(dev::smem);
  const size_t reserved = current_block != nullptr ? current_block->shared_bytes : dev::kEmulatedSharedBytes;
  if (at % 16 != 0) fail("%s: address %p is not 16-byte aligned", what, address);
  if (at < begin || at - begin + 16 > reserved)
    fail("%s: bytes [%p, +16) are not inside the %zu bytes of shared memory the launch reserved", what, address,
         reserved);
}

void warp_collective(const char* name, WarpCompute compute, const LanePayload& input, LanePayload& output) {
  if (current_block == nullptr) fail("%s outside a kernel", name);
  Block& b = *current_block;
  Warp& w = my_warp(b);
  const unsigned lane = threadIdx.x % 32;
  // Round r uses rounds[r % 2]: lane 0 can deposit into round r + 1 (the other one) before lanes
  // 1..31 take their outputs of round r, but into round r + 2 only after all of them have taken
  // theirs and deposited into round r + 1.
  CollectiveRound& round = w.rounds[collective_round];
  collective_round ^= 1;
  if (w.at_collective == 0) {
    round.compute = compute;
    round.name = name;
  } else if (round.compute != compute) {
    fail("the lanes of a warp diverged: lane %u called %s while lanes before it called %s", lane, name, round.name);
  }
  round.inputs[lane] = input;
  ++w.at_collective;
  int next = me() + 1;
  if (last_lane()) {
    if (w.at_collective != 32 || w.at_barrier != 0)
      fail("the lanes of a warp diverged: only %d of 32 reached %s", w.at_collective, name);
    w.at_collective = 0;
    compute(round.inputs, round.outputs);
    next = me() - 31;
  }
  hand_over(b, next, true);
  output = round.outputs[lane];
}

void run_grid(dim3 grid, dim3 block, size_t dynamic_shared_bytes, const std::function<void()>& thread_body) {
  if (block.y != 1 || block.z != 1) fail("only 1D blocks are emulated");
  if (block.x == 0 || block.x % 32 != 0 || block.x > 1024) fail("block.x must be a multiple of 32 in 32..1024");
  if (dynamic_shared_bytes > dev::kEmulatedSharedBytes) fail("the launch asks for more shared memory than emulated");

  const int cpu = current_cpu();
  unsigned linear_index = 0;
  for (unsigned bz = 0; bz < grid.z; ++bz)
    for (unsigned by = 0; by < grid.y; ++by)
      for (unsigned bx = 0; bx < grid.x; ++bx, ++linear_index) {
        poison_shared_memory();
        Block state(static_cast<int>(block.x), linear_index, dynamic_shared_bytes);
        state.batons[static_cast<size_t>(state.first_thread_of_turn())].give();
        std::vector<std::thread> threads;
        threads.reserve(block.x);
        for (unsigned t = 0; t < block.x; ++t)
          threads.emplace_back([&, t] {
            threadIdx = uint3{t, 0, 0};
            blockIdx = uint3{bx, by, bz};
            blockDim = block;
            gridDim = grid;
            emulated_thread = true;
            pin_to_cpu(cpu);
            run_thread(state, thread_body);
          });
        for (std::thread& thread : threads) thread.join();
        if (!shared_memory_untouched_from(dynamic_shared_bytes)) {
          char message[160];
          std::snprintf(message, sizeof message,
                        "block (%u, %u, %u) wrote shared memory past the %zu bytes the launch reserved", bx, by, bz,
                        dynamic_shared_bytes);
          fail("%s", message);
        }
      }
}

}  // namespace emulation
}  // namespace flashjit

void __syncthreads() {
  using namespace flashjit::emulation;
  if (current_block == nullptr) fail("__syncthreads outside a kernel");
  Block& b = *current_block;
  if (b.finished > 0) fail("__syncthreads after some threads of the block returned");
  Warp& w = my_warp(b);
  ++b.arrived;
  ++w.at_barrier;
  int next = me() + 1;
  if (last_lane()) {
    if (w.at_barrier != 32 || w.at_collective != 0)
      fail("the lanes of a warp diverged: only some reached __syncthreads");
    next = next_after_warp(b);
  }
  hand_over(b, next, true);
}

namespace {

struct ShuffleXorIn {
  float value;
  unsigned lane_mask;
};

void shuffle_xor(const ShuffleXorIn (&in)[32], float (&out)[32]) {
  for (unsigned lane = 0; lane < 32; ++lane) out[lane] = in[lane ^ in[lane].lane_mask].value;
}

struct Nothing {};

void nothing(const Nothing (&)[32], Nothing (&)[32]) {}

}  // namespace

float __shfl_xor_sync(unsigned mask, float value, int lane_mask) {
  using flashjit::emulation::fail;
  if (mask != 0xffffffffu) fail("__shfl_xor_sync: only full-warp masks are emulated");
  if (lane_mask <= 0 || lane_mask >= 32) fail("__shfl_xor_sync: lane_mask must be in 1..31");
  const ShuffleXorIn in{value, static_cast<unsigned>(lane_mask)};
  return flashjit::emulation::warp_collective<ShuffleXorIn, float, &shuffle_xor>("__shfl_xor_sync", in);
}

void __syncwarp(unsigned mask) {
  if (mask != 0xffffffffu) flashjit::emulation::fail("__syncwarp: only full-warp masks are emulated");
  flashjit::emulation::warp_collective<Nothing, Nothing, &nothing>("__syncwarp", Nothing{});
}
