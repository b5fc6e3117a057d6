#include "io/formats/mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "core/error.hpp"

namespace spikesim {
namespace {

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& what) {
  throw Error(ExitCode::model, fmt::format("{}: {}", file.string(), what));
}

}  // namespace

MappedFile::MappedFile(std::span<const std::byte> bytes) : owned_(bytes.begin(), bytes.end()) {
  data_ = owned_.data();
  size_ = owned_.size();
}

MappedFile::MappedFile(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, fmt::format("cannot open: {}", std::strerror(errno)));
  struct stat st {};
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  size_ = regular ? static_cast<std::uint64_t>(st.st_size) : 0;
  void* mapped = nullptr;
  // mmap of zero bytes fails (EINVAL): an empty file is left to the parser to refuse.
  if (regular && size_ > 0) mapped = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  const int mmap_errno = errno;
  ::close(fd);  // a mapping outlives its descriptor
  if (!regular) fail(path, "not a regular file");
  if (mapped == MAP_FAILED) fail(path, fmt::format("cannot memory-map: {}", std::strerror(mmap_errno)));
  mapped_ = mapped;
  data_ = static_cast<const std::byte*>(mapped);
}

MappedFile::~MappedFile() {
  if (mapped_ != nullptr) ::munmap(mapped_, size_);
}

}  // namespace spikesim
