#include "helpers/minimal_cubin.h"

#include <cstdint>
#include <cstring>

namespace flashjit::testing {
namespace {

template <typename T>
void put(std::string& bytes, size_t offset, T value) {
  if (bytes.size() < offset + sizeof(T)) bytes.resize(offset + sizeof(T), '\0');
  std::memcpy(&bytes[offset], &value, sizeof(T));
}

}  // namespace

std::string minimal_cubin(int arch, const std::vector<std::string>& functions, CubinAbi abi) {
  // Layout: header (64) | string table | symbol table (null symbol + one per function) |
  // section headers (null, .symtab, .strtab).
  std::string strings(1, '\0');
  std::vector<uint32_t> name_offsets;
  for (const std::string& name : functions) {
    name_offsets.push_back(static_cast<uint32_t>(strings.size()));
    strings += name;
    strings += '\0';
  }
  const uint64_t strings_at = 64;
  const uint64_t symbols_at = strings_at + strings.size();
  const uint64_t symbols_size = 24 * (functions.size() + 1);
  const uint64_t sections_at = symbols_at + symbols_size;

  std::string bytes(sections_at + 3 * 64, '\0');
  bytes.replace(0, 4, "\x7f" "ELF");
  bytes[4] = 2;  // 64-bit
  bytes[5] = 1;  // little-endian
  bytes[6] = 1;  // ELF version
  const bool shifted = abi == CubinAbi::since_cuda_12_8;
  bytes[7] = shifted ? 0x41 : 0x33;  // the CUDA OS ABI values NVIDIA's tools write
  bytes[8] = shifted ? 8 : 7;
  put<uint16_t>(bytes, 16, 2);    // ET_EXEC
  put<uint16_t>(bytes, 18, 190);  // EM_CUDA
  put<uint32_t>(bytes, 20, 1);
  put<uint32_t>(bytes, 48, shifted ? (uint32_t(arch) << 8) | 0x4 : uint32_t(arch) | (uint32_t(arch) << 16));
  put<uint64_t>(bytes, 40, sections_at);
  put<uint16_t>(bytes, 52, 64);
  put<uint16_t>(bytes, 58, 64);
  put<uint16_t>(bytes, 60, 3);
  put<uint16_t>(bytes, 62, 2);

  bytes.replace(strings_at, strings.size(), strings);
  for (size_t i = 0; i < functions.size(); ++i) {
    const uint64_t at = symbols_at + 24 * (i + 1);
    put<uint32_t>(bytes, at, name_offsets[i]);
    bytes[at + 4] = 0x12;  // STB_GLOBAL, STT_FUNC
  }
  const uint64_t symtab_header = sections_at + 64;
  put<uint32_t>(bytes, symtab_header + 4, 2);  // SHT_SYMTAB
  put<uint64_t>(bytes, symtab_header + 24, symbols_at);
  put<uint64_t>(bytes, symtab_header + 32, symbols_size);
  put<uint32_t>(bytes, symtab_header + 40, 2);  // its names are in section 2
  put<uint64_t>(bytes, symtab_header + 56, 24);
  const uint64_t strtab_header = sections_at + 128;
  put<uint32_t>(bytes, strtab_header + 4, 3);  // SHT_STRTAB
  put<uint64_t>(bytes, strtab_header + 24, strings_at);
  put<uint64_t>(bytes, strtab_header + 32, strings.size());
  return bytes;
}

}  // namespace flashjit::testing
