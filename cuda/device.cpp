#include "cuda/device.h"
#include "support/error.h"

#include <utility>

#include <llvm/Support/FormatVariadic.h>

namespace flashjit::cuda {
namespace {

llvm::Error error(ErrorCode code, const std::string& message) { return make_error(code, message); }

}  // namespace

llvm::Expected<int> device_count() {
  auto api = driver_api();
  if (!api) return api.takeError();
  int count = 0;
  if (llvm::Error err = check(*api, api->cuDeviceGetCount(&count), "cuDeviceGetCount")) return err;
  if (count == 0) return error(ErrorCode::no_device, "the CUDA driver reports no CUDA devices");
  return count;
}

llvm::Expected<gen::DeviceDescription> describe_device(int index) {
  auto count = device_count();
  if (!count) return count.takeError();
  if (index < 0 || index >= *count)
    return error(ErrorCode::no_device, llvm::formatv("device index {0} is out of range: {1} CUDA device{2} found", index,
                               *count, *count == 1 ? "" : "s"));
  const DriverApi& api = *driver_api();
  CUdevice device = 0;
  if (llvm::Error err = check(api, api.cuDeviceGet(&device, index), "cuDeviceGet")) return err;

  gen::DeviceDescription d;
  char name[256] = {};
  if (llvm::Error err = check(api, api.cuDeviceGetName(name, sizeof name, device), "cuDeviceGetName"))
    return err;
  d.name = name;

  struct Query {
    CUdevice_attribute attribute;
    int* slot;
  };
  const Query queries[] = {
      {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, &d.cc_major},
      {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, &d.cc_minor},
      {CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, &d.sm_count},
      {CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, &d.max_threads_per_block},
      {CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK, &d.smem_per_block},
      {CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, &d.smem_per_block_optin},
      {CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR, &d.smem_per_sm},
      {CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK, &d.regs_per_block},
      {CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR, &d.regs_per_sm},
      {CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, &d.l2_bytes},
      {CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE, &d.memory_clock_khz},
      {CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH, &d.memory_bus_bits},
  };
  for (const Query& q : queries)
    if (llvm::Error err = check(api, api.cuDeviceGetAttribute(q.slot, q.attribute, device), "cuDeviceGetAttribute"))
      return err;
  // Devices before opt-in shared memory report 0 for it; the plain limit is then the limit.
  if (d.smem_per_block_optin < d.smem_per_block) d.smem_per_block_optin = d.smem_per_block;

  size_t total = 0;
  if (llvm::Error err = check(api, api.cuDeviceTotalMem(&total, device), "cuDeviceTotalMem")) return err;
  d.total_memory_bytes = static_cast<long long>(total);
  d.driver_version = api.driver_version;
  return d;
}

// ---- PrimaryContext ----

llvm::Expected<std::unique_ptr<PrimaryContext>> PrimaryContext::retain(int device_index) {
  auto description = describe_device(device_index);  // also validates the index
  if (!description) return description.takeError();
  const DriverApi& api = *driver_api();
  CUdevice device = 0;
  if (llvm::Error err = check(api, api.cuDeviceGet(&device, device_index), "cuDeviceGet")) return err;
  CUcontext context = nullptr;
  if (llvm::Error err = check(api, api.cuDevicePrimaryCtxRetain(&context, device), "cuDevicePrimaryCtxRetain"))
    return err;
  return std::unique_ptr<PrimaryContext>(new PrimaryContext(api, device, context));
}

PrimaryContext::~PrimaryContext() { api_.cuDevicePrimaryCtxRelease(device_); }

llvm::Error PrimaryContext::make_current() const {
  CUcontext current = nullptr;
  if (api_.cuCtxGetCurrent(&current) == CUDA_SUCCESS && current == context_) return llvm::Error::success();
  return check(api_, api_.cuCtxSetCurrent(context_), "cuCtxSetCurrent");
}

// ---- ScopedContext ----

llvm::Expected<ScopedContext> ScopedContext::enter(const PrimaryContext& context) {
  const DriverApi& api = context.api_;
  CUcontext previous = nullptr;
  if (llvm::Error err = check(api, api.cuCtxGetCurrent(&previous), "cuCtxGetCurrent")) return err;
  if (previous == context.context_) return ScopedContext(&api, previous, false);
  if (llvm::Error err = check(api, api.cuCtxSetCurrent(context.context_), "cuCtxSetCurrent")) return err;
  return ScopedContext(&api, previous, true);
}

ScopedContext::ScopedContext(ScopedContext&& other) noexcept
    : api_(other.api_), previous_(other.previous_), restore_(std::exchange(other.restore_, false)) {}

ScopedContext::~ScopedContext() {
  if (restore_) api_->cuCtxSetCurrent(previous_);
}

// ---- DeviceBuffer ----

llvm::Expected<DeviceBuffer> DeviceBuffer::allocate(size_t bytes) {
  auto api = driver_api();
  if (!api) return api.takeError();
  CUdeviceptr address = 0;
  if (llvm::Error err = check(*api, api->cuMemAlloc(&address, bytes == 0 ? 1 : bytes), "cuMemAlloc"))
    return err;
  return DeviceBuffer(&*api, address, bytes);
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : api_(other.api_), address_(std::exchange(other.address_, 0)), bytes_(std::exchange(other.bytes_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this == &other) return *this;
  release();
  api_ = other.api_;
  address_ = std::exchange(other.address_, 0);
  bytes_ = std::exchange(other.bytes_, 0);
  return *this;
}

DeviceBuffer::~DeviceBuffer() { release(); }

void DeviceBuffer::release() {
  if (address_ != 0) api_->cuMemFree(address_);
  address_ = 0;
}

llvm::Error DeviceBuffer::copy_from_host(const void* source, size_t bytes) {
  if (bytes > bytes_)
    return error(ErrorCode::internal, llvm::formatv("copy of {0} bytes into a {1}-byte buffer", bytes, bytes_));
  return check(*api_, api_->cuMemcpyHtoD(address_, source, bytes), "cuMemcpyHtoD");
}

llvm::Error DeviceBuffer::copy_to_host(void* destination, size_t bytes) const {
  if (bytes > bytes_)
    return error(ErrorCode::internal, llvm::formatv("copy of {0} bytes out of a {1}-byte buffer", bytes, bytes_));
  return check(*api_, api_->cuMemcpyDtoH(destination, address_, bytes), "cuMemcpyDtoH");
}

llvm::Error DeviceBuffer::fill_bytes(unsigned char value) {
  return check(*api_, api_->cuMemsetD8(address_, value, bytes_), "cuMemsetD8");
}

// ---- Event ----

llvm::Expected<Event> Event::create() {
  auto api = driver_api();
  if (!api) return api.takeError();
  CUevent event = nullptr;
  if (llvm::Error err = check(*api, api->cuEventCreate(&event, CU_EVENT_DEFAULT), "cuEventCreate"))
    return err;
  return Event(&*api, event);
}

Event::Event(Event&& other) noexcept : api_(other.api_), event_(std::exchange(other.event_, nullptr)) {}

Event& Event::operator=(Event&& other) noexcept {
  if (this == &other) return *this;
  if (event_) api_->cuEventDestroy(event_);
  api_ = other.api_;
  event_ = std::exchange(other.event_, nullptr);
  return *this;
}

Event::~Event() {
  if (event_) api_->cuEventDestroy(event_);
}

llvm::Error Event::record(CUstream stream) { return check(*api_, api_->cuEventRecord(event_, stream), "cuEventRecord"); }

llvm::Error Event::synchronize() { return check(*api_, api_->cuEventSynchronize(event_), "cuEventSynchronize"); }

llvm::Expected<float> Event::elapsed_ms(const Event& start, const Event& end) {
  float ms = 0.0f;
  if (llvm::Error err = check(*start.api_, start.api_->cuEventElapsedTime(&ms, start.event_, end.event_),
                              "cuEventElapsedTime"))
    return err;
  return ms;
}

namespace {

// Errors after which the context can run nothing more: a kernel faulted (bad address, trap, ...),
// and every later call in this context returns the same error.
bool is_sticky_fault(CUresult r) {
  switch (r) {
    case CUDA_ERROR_ILLEGAL_ADDRESS:
    case CUDA_ERROR_LAUNCH_FAILED:
    case CUDA_ERROR_MISALIGNED_ADDRESS:
    case CUDA_ERROR_ILLEGAL_INSTRUCTION:
    case CUDA_ERROR_INVALID_ADDRESS_SPACE:
    case CUDA_ERROR_INVALID_PC:
    case CUDA_ERROR_HARDWARE_STACK_ERROR:
    case CUDA_ERROR_ASSERT:
    case CUDA_ERROR_LAUNCH_TIMEOUT:
    case CUDA_ERROR_ECC_UNCORRECTABLE:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string context_fault() {
  auto api = driver_api();
  if (!api) {
    llvm::consumeError(api.takeError());
    return {};
  }
  const CUresult r = api->cuCtxSynchronize();
  if (!is_sticky_fault(r)) return {};
  return describe_result(*api, r);
}

llvm::Error synchronize_stream(CUstream stream) {
  auto api = driver_api();
  if (!api) return api.takeError();
  return check(*api, api->cuStreamSynchronize(stream), "cuStreamSynchronize");
}

}  // namespace flashjit::cuda
