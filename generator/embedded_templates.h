// The text of templates/*.cuh, embedded in the library at build time so that a deployed
// application needs no FlashJIT files beside it.
#pragma once

#include <string>
#include <vector>

namespace flashjit::gen {

struct EmbeddedTemplate {
  const char* name;  // file name under templates/, e.g. "generic_forward.cuh"
  const char* text;
};

const std::vector<EmbeddedTemplate>& embedded_templates();
// SHA-256 (hex) over the names and texts of all templates: part of every cache key.
const char* templates_sha256();

}  // namespace flashjit::gen
