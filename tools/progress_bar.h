// A one-line progress bar on stderr for long CLI steps (tuning, warming). Quiet when stderr is not
// a terminal, so logs and pipes get no control characters.
#pragma once

#include <string>

namespace flashjit::tools {

class ProgressBar {
 public:
  explicit ProgressBar(std::string label);
  ~ProgressBar();
  void update(int done, int total, const std::string& what);
  void finish();

 private:
  std::string label_;
  bool enabled_;
  bool drawn_ = false;
};

}  // namespace flashjit::tools
