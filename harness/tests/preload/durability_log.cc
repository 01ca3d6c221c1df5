// LD_PRELOAD shim for tests: logs, in call order, the calls that decide whether a file's data
// is durable before it has its name (fsync, fdatasync, linkat, rename, renameat, renameat2),
// one line each to the file TFTPSPEC_DURABILITY_LOG names, then makes the real call. Test
// code only: it lets a test see the order of system calls in a real server process, where
// the effects of a missing fsync show only after a power cut.
#include <dlfcn.h>
#include <fcntl.h>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

namespace {

template <typename F>
F real(const char* name) {
  return reinterpret_cast<F>(::dlsym(RTLD_NEXT, name));
}

// One short write per line to an O_APPEND file: lines from threads never interleave.
void log_line(const char* fmt, const char* a, const char* b, long n) {
  const char* path = ::getenv("TFTPSPEC_DURABILITY_LOG");
  if (path == nullptr) return;
  char line[1024];
  int len = std::snprintf(line, sizeof line, fmt, a, b, n);
  if (len <= 0) return;
  if (len >= static_cast<int>(sizeof line)) len = sizeof line - 1;
  const int fd = ::open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  (void)!::write(fd, line, static_cast<size_t>(len));
  ::close(fd);
}

}  // namespace

extern "C" {

// "fsync N PATH": the descriptor and what it is open on ("/dir/#123 (deleted)" for an
// O_TMPFILE file), so a later link of /proc/self/fd/N or rename of PATH can be matched to it.
static void log_sync(int fd) {
  char proc[64];
  std::snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  char target[512];
  const ssize_t n = ::readlink(proc, target, sizeof target - 1);
  target[n > 0 ? n : 0] = '\0';
  log_line("fsync %s%s %ld\n", "", target, fd);
}

int fsync(int fd) {
  log_sync(fd);
  return real<int (*)(int)>("fsync")(fd);
}

int fdatasync(int fd) {
  log_sync(fd);  // as good as fsync for the data
  return real<int (*)(int)>("fdatasync")(fd);
}

int linkat(int olddirfd, const char* oldpath, int newdirfd, const char* newpath, int flags) {
  log_line("link %s %s %ld\n", oldpath, newpath, olddirfd);
  return real<int (*)(int, const char*, int, const char*, int)>("linkat")(olddirfd, oldpath, newdirfd, newpath, flags);
}

int rename(const char* oldpath, const char* newpath) {
  log_line("rename %s %s %ld\n", oldpath, newpath, 0);
  return real<int (*)(const char*, const char*)>("rename")(oldpath, newpath);
}

int renameat(int olddirfd, const char* oldpath, int newdirfd, const char* newpath) {
  log_line("rename %s %s %ld\n", oldpath, newpath, 0);
  return real<int (*)(int, const char*, int, const char*)>("renameat")(olddirfd, oldpath, newdirfd, newpath);
}

int renameat2(int olddirfd, const char* oldpath, int newdirfd, const char* newpath, unsigned int flags) {
  log_line("rename %s %s %ld\n", oldpath, newpath, 0);
  return real<int (*)(int, const char*, int, const char*, unsigned int)>("renameat2")(olddirfd, oldpath, newdirfd, newpath,
                                                                                    flags);
}

}  // extern "C"
