// Devices and the driver objects FlashJIT holds, as RAII types: the primary context, device memory,
// events. Every failure is an llvm::Error with the driver's error name.
#pragma once

#include <cstddef>
#include <memory>

#include <cuda.h>

#include <llvm/Support/Error.h>

#include "generator/device_description.h"
#include "cuda/driver_api.h"

namespace flashjit::cuda {

// Number of CUDA devices; an error when the driver is unusable or reports none.
llvm::Expected<int> device_count();

// Everything the selector needs about device `index` (name, capability, SMs, memory limits,
// driver version). "device index 3 is out of range: 1 CUDA device found" for a bad index.
llvm::Expected<gen::DeviceDescription> describe_device(int index);

// The device's primary context, retained for the object's lifetime (shared with the CUDA runtime
// API, so FlashJIT and cudaMalloc'd pointers work together).
class PrimaryContext {
 public:
  static llvm::Expected<std::unique_ptr<PrimaryContext>> retain(int device_index);
  ~PrimaryContext();
  PrimaryContext(const PrimaryContext&) = delete;
  PrimaryContext& operator=(const PrimaryContext&) = delete;

  // Makes the context current on the calling thread (cheap when it already is).
  llvm::Error make_current() const;
  CUcontext get() const { return context_; }
  CUdevice device() const { return device_; }

 private:
  friend class ScopedContext;
  PrimaryContext(const DriverApi& api, CUdevice device, CUcontext context)
      : api_(api), device_(device), context_(context) {}
  const DriverApi& api_;
  CUdevice device_;
  CUcontext context_;
};

// Makes `context` current for a scope and restores whatever the calling thread had before, so a
// FlashJIT call never changes the application's current context.
class ScopedContext {
 public:
  static llvm::Expected<ScopedContext> enter(const PrimaryContext& context);
  ScopedContext(ScopedContext&& other) noexcept;
  ScopedContext(const ScopedContext&) = delete;
  ScopedContext& operator=(const ScopedContext&) = delete;
  ScopedContext& operator=(ScopedContext&&) = delete;
  ~ScopedContext();

 private:
  ScopedContext(const DriverApi* api, CUcontext previous, bool restore)
      : api_(api), previous_(previous), restore_(restore) {}
  const DriverApi* api_;
  CUcontext previous_;
  bool restore_;
};

// Device memory owned by this object (for tests, benchmarks and the main job).
class DeviceBuffer {
 public:
  static llvm::Expected<DeviceBuffer> allocate(size_t bytes);
  DeviceBuffer() = default;
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  ~DeviceBuffer();

  CUdeviceptr address() const { return address_; }
  void* pointer() const { return reinterpret_cast<void*>(address_); }
  size_t size() const { return bytes_; }
  llvm::Error copy_from_host(const void* source, size_t bytes);
  llvm::Error copy_to_host(void* destination, size_t bytes) const;
  llvm::Error fill_bytes(unsigned char value);

 private:
  DeviceBuffer(const DriverApi* api, CUdeviceptr address, size_t bytes)
      : api_(api), address_(address), bytes_(bytes) {}
  void release();
  const DriverApi* api_ = nullptr;
  CUdeviceptr address_ = 0;
  size_t bytes_ = 0;
};

class Event {
 public:
  static llvm::Expected<Event> create();
  Event() = default;
  Event(Event&& other) noexcept;
  Event& operator=(Event&& other) noexcept;
  ~Event();

  llvm::Error record(CUstream stream);
  llvm::Error synchronize();
  // Milliseconds between two recorded, completed events.
  static llvm::Expected<float> elapsed_ms(const Event& start, const Event& end);

 private:
  Event(const DriverApi* api, CUevent event) : api_(api), event_(event) {}
  const DriverApi* api_ = nullptr;
  CUevent event_ = nullptr;
};

llvm::Error synchronize_stream(CUstream stream);

// Why the current context can run nothing more ("CUDA_ERROR_ILLEGAL_ADDRESS (...)": a kernel
// faulted, which poisons the whole context until the process ends), or empty when it is healthy.
// Waits for the context's work.
std::string context_fault();

}  // namespace flashjit::cuda
