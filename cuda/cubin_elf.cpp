#include "cuda/cubin_elf.h"

#include <cstdint>
#include <cstring>

#include "support/error.h"

namespace flashjit::cuda {
namespace {

// ELF64, little-endian: the only kind of cubin NVRTC and ptxas write.
constexpr uint16_t kMachineCuda = 190;
constexpr uint8_t kClass64 = 2;
constexpr uint8_t kLittleEndian = 1;
constexpr size_t kHeaderSize = 64;
constexpr size_t kSectionHeaderSize = 64;
constexpr size_t kSymbolSize = 24;
constexpr uint32_t kSectionSymbolTable = 2;
constexpr uint8_t kSymbolFunction = 2;
// CUDA 12.8 moved the SM number from bits 0-7 of e_flags to bits 8-15 and raised the ABI version
// in e_ident[EI_ABIVERSION] from 7 to 8 to say so.
constexpr uint8_t kAbiVersionWithShiftedSm = 8;

llvm::Error bad_cubin(const std::string& why) { return make_error(ErrorCode::invalid_argument, why); }

// Little-endian reads at an offset already checked against the size.
template <typename T>
T read_at(llvm::StringRef bytes, uint64_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

bool fits(llvm::StringRef bytes, uint64_t offset, uint64_t size) {
  return offset <= bytes.size() && size <= bytes.size() - offset;
}

struct Section {
  uint32_t type = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
  uint32_t link = 0;
  uint64_t entry_size = 0;
};

llvm::Expected<std::vector<Section>> read_sections(llvm::StringRef bytes) {
  const uint64_t table = read_at<uint64_t>(bytes, 40);
  const uint16_t entry_size = read_at<uint16_t>(bytes, 58);
  const uint16_t count = read_at<uint16_t>(bytes, 60);
  if (count == 0) return std::vector<Section>{};
  if (entry_size != kSectionHeaderSize)
    return bad_cubin("its section headers are " + std::to_string(entry_size) + " bytes, not 64");
  if (!fits(bytes, table, uint64_t{count} * kSectionHeaderSize))
    return bad_cubin("its section header table lies outside the file");
  std::vector<Section> sections(count);
  for (uint16_t i = 0; i < count; ++i) {
    const uint64_t at = table + uint64_t{i} * kSectionHeaderSize;
    Section& s = sections[i];
    s.type = read_at<uint32_t>(bytes, at + 4);
    s.offset = read_at<uint64_t>(bytes, at + 24);
    s.size = read_at<uint64_t>(bytes, at + 32);
    s.link = read_at<uint32_t>(bytes, at + 40);
    s.entry_size = read_at<uint64_t>(bytes, at + 56);
    // SHT_NOBITS (8) occupies no bytes of the file.
    if (s.type != 8 && !fits(bytes, s.offset, s.size))
      return bad_cubin("section " + std::to_string(i) + " lies outside the file");
  }
  return sections;
}

// The function symbols of one symbol table, with names from its string table.
llvm::Error read_functions(llvm::StringRef bytes, const std::vector<Section>& sections, const Section& symbols,
                           std::vector<std::string>& functions) {
  if (symbols.entry_size != kSymbolSize) return bad_cubin("its symbol table has entries that are not 24 bytes");
  if (symbols.link >= sections.size()) return bad_cubin("its symbol table names no string table");
  const Section& strings = sections[symbols.link];
  const llvm::StringRef names = bytes.substr(strings.offset, strings.size);
  for (uint64_t at = symbols.offset; at + kSymbolSize <= symbols.offset + symbols.size; at += kSymbolSize) {
    const uint32_t name = read_at<uint32_t>(bytes, at);
    const uint8_t info = read_at<uint8_t>(bytes, at + 4);
    if ((info & 0xf) != kSymbolFunction) continue;
    if (name >= names.size()) return bad_cubin("a symbol's name lies outside its string table");
    const size_t end = names.find('\0', name);
    if (end == llvm::StringRef::npos) return bad_cubin("a symbol's name is not terminated");
    functions.push_back(names.slice(name, end).str());
  }
  return llvm::Error::success();
}

}  // namespace

llvm::Expected<CubinInfo> read_cubin(llvm::StringRef bytes) {
  if (bytes.size() < kHeaderSize || !bytes.startswith("\x7f" "ELF")) return bad_cubin("not an ELF file");
  if (bytes[4] != kClass64 || bytes[5] != kLittleEndian)
    return bad_cubin("not a 64-bit little-endian ELF file");
  const uint16_t machine = read_at<uint16_t>(bytes, 18);
  if (machine != kMachineCuda)
    return bad_cubin("an ELF file for machine " + std::to_string(machine) + ", not CUDA (190)");

  CubinInfo info;
  const uint32_t flags = read_at<uint32_t>(bytes, 48);
  const uint8_t abi_version = static_cast<uint8_t>(bytes[8]);
  info.arch = static_cast<int>(abi_version >= kAbiVersionWithShiftedSm ? (flags >> 8) & 0xff : flags & 0xff);

  auto sections = read_sections(bytes);
  if (!sections) return sections.takeError();
  for (const Section& section : *sections)
    if (section.type == kSectionSymbolTable)
      if (llvm::Error error = read_functions(bytes, *sections, section, info.functions)) return error;
  return info;
}

}  // namespace flashjit::cuda
