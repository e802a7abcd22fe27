// The smallest bytes cuda::read_cubin accepts as a cubin: an ELF64 header for EM_CUDA with the SM
// in e_flags, a symbol table with one function symbol per name, and its string table. For tests
// that need a cubin of any architecture without compiling one (fake devices, cache entries,
// damaged variants of it).
#pragma once

#include <string>
#include <vector>

namespace flashjit::testing {

enum class CubinAbi { before_cuda_12_8, since_cuda_12_8 };

std::string minimal_cubin(int arch, const std::vector<std::string>& functions,
                          CubinAbi abi = CubinAbi::since_cuda_12_8);

}  // namespace flashjit::testing
