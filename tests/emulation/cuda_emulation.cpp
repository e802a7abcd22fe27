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
// 1024-byte aligned like the swizzle atoms of the wgmma_sm90 tiles (TMA and wgmma swizzle on address bits
// of the shared window, which starts at this array).
alignas(1024) float smem[kEmulatedSharedBytes / sizeof(float)];
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
  int at_collective = 0;                  // lanes that deposited their input in the current collective
  const char* collective_name = nullptr;  // the collective they called, for messages
};

// Where a thread of the block stands.
enum class ThreadState {
  runnable,          // running, or released from where it waited and due to run when its turn comes
  waiting,           // in wait_until(): takes the turn to re-evaluate its condition
  at_collective,     // released when all 32 lanes of its warp have deposited their inputs
  at_syncthreads,    // released when every thread of the block has arrived
  at_named_barrier,  // released when the barrier's thread count has arrived
  finished,          // returned from the kernel
};

struct ThreadSlot {
  ThreadState state = ThreadState::runnable;
  const char* waits_for = nullptr;  // wait_until()'s `what`
  int barrier_id = 0;               // the named barrier it waits at
  // The block's progress count when its wait_until() condition was last false: it is worth
  // evaluating again only after some thread has run since.
  unsigned long long polled_at = 0;
};

// One of the hardware's 16 barriers (0 is __syncthreads(), counted in Block::arrived).
struct NamedBarrier {
  int expected = 0;  // the thread count the arrivals of the current round asked for
  int arrived = 0;
};
constexpr int kNamedBarriers = 16;

// A block's threads and its schedule. Exactly one thread of the block runs at a time; it runs
// until it blocks (at __syncthreads(), a warp collective such as __shfl_xor_sync(), __syncwarp(),
// ldmatrix or mma, a named barrier, or a wait_until() whose condition is false) or returns, and
// then hands the turn to the next thread that can take it:
//  - first the lanes of its own warp, in lane order after it, wrapping round (so lanes take turns
//    in lane order; at a collective the last lane to arrive computes every lane's output from what
//    all 32 deposited, and the lanes after it take theirs in that order: lane 0 first when, as
//    usual, lane 31 arrived last);
//  - when no lane of the warp can go on, the warps after it in this phase's order, each from lane 0;
//  - after the last warp of the order a round over the warps is complete: if every thread waits at
//    __syncthreads() the barrier opens and the next phase begins, otherwise the next round over the
//    warps (in the same order) begins.
// A thread can take the turn when it is runnable, or when it waits in wait_until() and some thread
// has run since its condition was last found false (a condition changes only when other threads
// run, so re-evaluating it earlier is wasted: each such thread is woken at most once per thread
// that ran in between, and only when the round reaches it). When no thread of the block can take
// the turn the block is deadlocked, and the emulation fails naming what a blocked thread waits for.
// Kernels with only __syncthreads() and warp collectives thus run as before waits existed: each
// warp gets one turn per phase, running until all its lanes wait at the barrier or finished.
// Between two barriers the warps of a block may run in any order on a GPU; the emulation runs them
// in warp order in one phase and in reverse order in the next (and the other way round in every
// other block), so a missing barrier shows up, deterministically: the warp that runs first
// overwrites shared memory a later warp still needed, or reads what a later warp has not written.
// Lanes that diverge at a collective or barrier are reported. Only the running thread touches the
// bookkeeping below; the batons order one turn's writes before the next turn's reads.
struct Block {
  Block(int thread_count, unsigned linear_index, size_t dynamic_shared_bytes)
      : threads(thread_count), first_reverse(linear_index % 2 == 1), shared_bytes(dynamic_shared_bytes),
        warps(static_cast<size_t>(thread_count / 32)), batons(static_cast<size_t>(thread_count)),
        slots(static_cast<size_t>(thread_count)) {}

  int warp_count() const { return static_cast<int>(warps.size()); }
  // The warp whose turn it is: position `turn` in this phase's order.
  int warp_of_turn() const {
    const bool reverse = first_reverse != (phase % 2 == 1);
    return reverse ? warp_count() - 1 - turn : turn;
  }
  ThreadSlot& slot(int thread) { return slots[static_cast<size_t>(thread)]; }
  const ThreadSlot& slot(int thread) const { return slots[static_cast<size_t>(thread)]; }
  bool can_take_turn(int thread) const {
    const ThreadSlot& s = slot(thread);
    return s.state == ThreadState::runnable || (s.state == ThreadState::waiting && s.polled_at != progress);
  }

  const int threads;
  const bool first_reverse;
  const size_t shared_bytes;                    // what the launch reserved
  std::vector<Warp> warps;
  std::vector<Baton> batons;                    // per thread
  std::vector<ThreadSlot> slots;                // per thread
  NamedBarrier named[kNamedBarriers];
  unsigned long long phase = 0;                 // __syncthreads() rounds completed
  unsigned long long progress = 0;              // times a thread went on with the kernel
  int turn = 0;                                 // position of the running warp in this phase's order
  int arrived = 0;                              // threads waiting at __syncthreads()
  int finished = 0;                             // threads that returned from the kernel
};

thread_local Block* current_block = nullptr;
thread_local int collective_round = 0;  // which of its warp's two rounds this lane's next collective uses

int me() { return static_cast<int>(threadIdx.x); }
Warp& my_warp(Block& b) { return b.warps[threadIdx.x / 32]; }
ThreadSlot& my_slot(Block& b) { return b.slot(me()); }

// Gives the turn to `next` (-1: nobody) and, unless the caller finished, waits for it to come back.
void hand_over(Block& b, int next, bool wait) {
  if (next >= 0) b.batons[static_cast<size_t>(next)].give();
  if (wait) b.batons[static_cast<size_t>(me())].take();
}

// The first lane of `warp` after `after_lane`, in lane order and wrapping round to it, that can take
// the turn; -1 if none can.
int next_lane_of(const Block& b, int warp, int after_lane) {
  for (int step = 1; step <= 32; ++step) {
    const int thread = 32 * warp + (after_lane + step) % 32;
    if (b.can_take_turn(thread)) return thread;
  }
  return -1;
}

// A warp none of whose lanes can go on: its lanes must all be blocked at the same thing. Lanes in
// wait_until() may join any of them later, so they go with everything.
void check_stalled_warp(const Block& b, int warp) {
  int at_collective = 0, at_syncthreads = 0, at_named = 0, waiting = 0, barrier_id = 0;
  for (int thread = 32 * warp; thread < 32 * warp + 32; ++thread) {
    const ThreadSlot& s = b.slot(thread);
    switch (s.state) {
      case ThreadState::waiting: ++waiting; break;
      case ThreadState::at_collective: ++at_collective; break;
      case ThreadState::at_syncthreads: ++at_syncthreads; break;
      case ThreadState::at_named_barrier:
        if (at_named++ > 0 && s.barrier_id != barrier_id)
          fail("the lanes of a warp diverged: some wait at named barrier %d, others at %d", barrier_id, s.barrier_id);
        barrier_id = s.barrier_id;
        break;
      case ThreadState::runnable:
      case ThreadState::finished: break;
    }
  }
  if (at_collective > 0 && at_collective + waiting != 32)
    fail("the lanes of a warp diverged: only %d of 32 reached %s", at_collective,
         b.warps[static_cast<size_t>(warp)].collective_name);
  if (at_syncthreads > 0 && at_syncthreads + waiting != 32)
    fail("the lanes of a warp diverged: only some reached __syncthreads");
  if (at_named > 0 && at_named + waiting != 32)
    fail("the lanes of a warp diverged: only %d of 32 reached named barrier %d", at_named, barrier_id);
}

// The thread whose state says most about a deadlock: the first one in wait_until(), else the first
// at a named barrier, a collective, __syncthreads().
int most_telling_blocked_thread(const Block& b) {
  for (ThreadState state : {ThreadState::waiting, ThreadState::at_named_barrier, ThreadState::at_collective,
                            ThreadState::at_syncthreads})
    for (int thread = 0; thread < b.threads; ++thread)
      if (b.slot(thread).state == state) return thread;
  return 0;
}

void describe_blocked_thread(const Block& b, int thread, char* out, size_t size) {
  const ThreadSlot& s = b.slot(thread);
  switch (s.state) {
    case ThreadState::waiting: std::snprintf(out, size, "waits for %s", s.waits_for); return;
    case ThreadState::at_named_barrier: {
      const NamedBarrier& bar = b.named[s.barrier_id];
      std::snprintf(out, size, "waits at named barrier %d, where %d of %d threads arrived", s.barrier_id,
                    bar.arrived, bar.expected);
      return;
    }
    case ThreadState::at_collective:
      std::snprintf(out, size, "waits at %s for the rest of its warp",
                    b.warps[static_cast<size_t>(thread / 32)].collective_name);
      return;
    case ThreadState::at_syncthreads: std::snprintf(out, size, "waits at __syncthreads"); return;
    case ThreadState::runnable:
    case ThreadState::finished: break;
  }
  std::snprintf(out, size, "is not blocked");
}

[[noreturn]] void fail_deadlock(const Block& b) {
  int count[static_cast<int>(ThreadState::finished) + 1] = {};
  for (const ThreadSlot& s : b.slots) ++count[static_cast<int>(s.state)];
  const int thread = most_telling_blocked_thread(b);
  char what[160];
  describe_blocked_thread(b, thread, what, sizeof what);
  fail("deadlock: every thread of the block is blocked (thread %d %s); of its %d threads, %d wait in wait_until, %d "
       "at named barriers, %d at __syncthreads, %d at warp collectives, %d finished",
       thread, what, b.threads, count[static_cast<int>(ThreadState::waiting)],
       count[static_cast<int>(ThreadState::at_named_barrier)], count[static_cast<int>(ThreadState::at_syncthreads)],
       count[static_cast<int>(ThreadState::at_collective)], count[static_cast<int>(ThreadState::finished)]);
}

// Every thread waits at __syncthreads(): they all go on, in the next phase's order.
void open_syncthreads(Block& b) {
  for (ThreadSlot& s : b.slots) s.state = ThreadState::runnable;
  b.arrived = 0;
  ++b.phase;
}

// The end of a round over the warps: the next round starts (in the next phase if __syncthreads()
// opens). True when the block is done.
bool end_round(Block& b) {
  b.turn = 0;
  if (b.finished == b.threads) return true;
  // __syncthreads() after a thread returned fails, and so does returning while threads wait there:
  // a barrier with arrivals never has finished threads to count.
  if (b.arrived == b.threads) open_syncthreads(b);
  return false;
}

// The thread to hand the turn to once the running thread stopped (blocked or finished): see Block.
// -1 when every thread finished; fails when the block is deadlocked.
int next_thread(Block& b) {
  const int warp = me() / 32;
  if (warp != b.warp_of_turn()) fail("emulation: a thread ran out of its warp's turn");
  int next = next_lane_of(b, warp, me() % 32);
  if (next >= 0) return next;
  check_stalled_warp(b, warp);
  // Every warp once, the running one last: nobody found means nobody can go on.
  for (int visited = 0; visited < b.warp_count(); ++visited) {
    if (++b.turn == b.warp_count() && end_round(b)) return -1;
    next = next_lane_of(b, b.warp_of_turn(), 31);
    if (next >= 0) return next;
  }
  fail_deadlock(b);
}

// The running thread, its state already recorded as blocked, hands the turn on and returns when it
// has the turn again (not necessarily released: a waiting thread then re-evaluates its condition).
void pass_turn(Block& b) {
  const int next = next_thread(b);
  if (next != me()) hand_over(b, next, true);
}

// The running thread goes on with the kernel: threads waiting for a condition may now find it true.
void go_on(Block& b) {
  my_slot(b).state = ThreadState::runnable;
  ++b.progress;
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
  go_on(b);
  thread_body();
  // Threads blocked elsewhere (in wait_until or at a named barrier) may outlive the others, as the
  // idle warps of a producer warpgroup do; __syncthreads counts every thread that has not returned.
  if (b.arrived > 0) fail("a thread returned while other threads of its block wait at __syncthreads");
  my_slot(b).state = ThreadState::finished;
  ++b.finished;
  const int next = next_thread(b);
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

void check_shared_bytes(const void* address, size_t bytes, const char* what) {
  const auto at = reinterpret_cast<std::uintptr_t>(address);
  const auto begin = reinterpret_cast<std::uintptr_t>(dev::smem);
  const size_t reserved = current_block != nullptr ? current_block->shared_bytes : dev::kEmulatedSharedBytes;
  if (at % bytes != 0) fail("%s: address %p is not %zu-byte aligned", what, address, bytes);
  if (at < begin || at - begin + bytes > reserved)
    fail("%s: bytes [%p, +%zu) are not inside the %zu bytes of shared memory the launch reserved", what, address,
         bytes, reserved);
}

void check_shared_chunk16(const void* address, const char* what) { check_shared_bytes(address, 16, what); }

void warp_collective(const char* name, WarpCompute compute, const LanePayload& input, LanePayload& output) {
  if (current_block == nullptr) fail("%s outside a kernel", name);
  Block& b = *current_block;
  Warp& w = my_warp(b);
  const unsigned lane = threadIdx.x % 32;
  // Round r uses rounds[r % 2]: a lane can deposit into round r + 1 (the other one) before the
  // others take their outputs of round r, but into round r + 2 only after all of them have taken
  // theirs and deposited into round r + 1.
  CollectiveRound& round = w.rounds[collective_round];
  collective_round ^= 1;
  if (w.at_collective == 0) {
    round.compute = compute;
    round.name = name;
    w.collective_name = name;
  } else if (round.compute != compute) {
    fail("the lanes of a warp diverged: lane %u called %s while lanes before it called %s", lane, name, round.name);
  }
  round.inputs[lane] = input;
  my_slot(b).state = ThreadState::at_collective;
  if (++w.at_collective == 32) {
    // The last lane to arrive (lane 31 unless a lane was held up in wait_until) computes for all.
    w.at_collective = 0;
    compute(round.inputs, round.outputs);
    for (int thread = me() / 32 * 32; thread < me() / 32 * 32 + 32; ++thread)
      b.slot(thread).state = ThreadState::runnable;
  }
  pass_turn(b);
  go_on(b);
  output = round.outputs[lane];
}

void wait_until(const char* what, const std::function<bool()>& ready) {
  if (current_block == nullptr) fail("wait_until(%s) outside a kernel", what);
  if (ready()) return;
  Block& b = *current_block;
  ThreadSlot& s = my_slot(b);
  s.state = ThreadState::waiting;
  s.waits_for = what;
  do {
    s.polled_at = b.progress;
    pass_turn(b);
  } while (!ready());
  s.waits_for = nullptr;
  go_on(b);
}

namespace {

// The last arrival of a round at named barrier `id`: every thread there goes on, provided they are
// whole warps (bar.sync counts threads, but a warp arrives as a whole).
void release_named_barrier(Block& b, int id) {
  for (int warp = 0; warp < b.warp_count(); ++warp) {
    int lanes = 0;
    for (int thread = 32 * warp; thread < 32 * warp + 32; ++thread) {
      const ThreadSlot& s = b.slot(thread);
      lanes += s.state == ThreadState::at_named_barrier && s.barrier_id == id;
    }
    if (lanes != 0 && lanes != 32)
      fail("named barrier %d completed with its %d threads, but only %d of the 32 lanes of warp %d arrived "
           "(bar.sync arrives by whole warps)",
           id, b.named[id].expected, lanes, warp);
  }
  for (ThreadSlot& s : b.slots)
    if (s.state == ThreadState::at_named_barrier && s.barrier_id == id) s.state = ThreadState::runnable;
  b.named[id].arrived = 0;
}

}  // namespace

namespace {

// Counts one arrival at named barrier `id` of `threads` threads (checked against the round's other
// arrivals); true when it completes the round.
bool arrive_at_named_barrier(Block& b, int id, int threads) {
  if (id < 1 || id >= kNamedBarriers) fail("named barrier %d: ids are 1..15 (0 is __syncthreads)", id);
  if (threads < 32 || threads % 32 != 0 || threads > b.threads)
    fail("named barrier %d: %d threads is not a multiple of 32 in 32..%d (the block)", id, threads, b.threads);
  NamedBarrier& bar = b.named[id];
  if (bar.arrived == 0)
    bar.expected = threads;
  else if (bar.expected != threads)
    fail("named barrier %d: this thread expects %d threads, the threads before it %d", id, threads, bar.expected);
  return ++bar.arrived == bar.expected;
}

}  // namespace

void named_barrier_arrive(int id, int threads) {
  if (current_block == nullptr) fail("named barrier %d outside a kernel", id);
  Block& b = *current_block;
  if (arrive_at_named_barrier(b, id, threads)) release_named_barrier(b, id);
}

void named_barrier(int id, int threads) {
  if (current_block == nullptr) fail("named barrier %d outside a kernel", id);
  Block& b = *current_block;
  const bool completes = arrive_at_named_barrier(b, id, threads);
  ThreadSlot& s = my_slot(b);
  s.state = ThreadState::at_named_barrier;
  s.barrier_id = id;
  if (completes) release_named_barrier(b, id);
  pass_turn(b);
  go_on(b);
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
        state.batons[static_cast<size_t>(32 * state.warp_of_turn())].give();
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
  my_slot(b).state = ThreadState::at_syncthreads;
  ++b.arrived;
  pass_turn(b);
  go_on(b);
}

namespace {

struct ShuffleXorIn {
  float value;
  unsigned lane_mask;
};

void shuffle_xor(const ShuffleXorIn (&in)[32], float (&out)[32]) {
  for (unsigned lane = 0; lane < 32; ++lane) out[lane] = in[lane ^ in[lane].lane_mask].value;
}

struct ShuffleXorBitsIn {
  unsigned value;
  unsigned lane_mask;
};

void shuffle_xor_bits(const ShuffleXorBitsIn (&in)[32], unsigned (&out)[32]) {
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

unsigned __shfl_xor_sync(unsigned mask, unsigned value, int lane_mask) {
  using flashjit::emulation::fail;
  if (mask != 0xffffffffu) fail("__shfl_xor_sync: only full-warp masks are emulated");
  if (lane_mask <= 0 || lane_mask >= 32) fail("__shfl_xor_sync: lane_mask must be in 1..31");
  const ShuffleXorBitsIn in{value, static_cast<unsigned>(lane_mask)};
  return flashjit::emulation::warp_collective<ShuffleXorBitsIn, unsigned, &shuffle_xor_bits>("__shfl_xor_sync (bits)",
                                                                                             in);
}

void __syncwarp(unsigned mask) {
  if (mask != 0xffffffffu) flashjit::emulation::fail("__syncwarp: only full-warp masks are emulated");
  flashjit::emulation::warp_collective<Nothing, Nothing, &nothing>("__syncwarp", Nothing{});
}
