// The reference server's root against hostile names (issue 12 item 2): a traversal corpus
// for reads and writes proven with canary files planted outside the root, uploads that a
// crash, a second upload of the same name, a full disk or a permission cannot corrupt.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "engine/transfer.h"
#include "proto/packet.h"
#include "server/file_store.h"
#include "tests/support/packets.h"

namespace tftp::server {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;
using namespace std::string_literals;

const std::string kCanary = "CANARY-outside-the-root-must-never-be-served";

void write_text(const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Everything under `dir` that is not under `skip`: path -> type and content.
std::map<std::string, std::string> snapshot(const fs::path& dir, const fs::path& skip) {
  std::map<std::string, std::string> out;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
    if (it->path() == skip) {
      it.disable_recursion_pending();
      continue;
    }
    const auto st = it->symlink_status();
    std::string what = std::to_string(static_cast<int>(st.type())) + ":";
    if (fs::is_symlink(st)) {
      what += fs::read_symlink(it->path()).string();
    } else if (fs::is_regular_file(st)) {
      what += read_text(it->path());
    }
    out[it->path().string()] = what;
  }
  return out;
}

std::string read_all(engine::ByteSource& src) {
  std::string out;
  Bytes buf(4096);
  for (;;) {
    auto n = src.read(buf);
    if (!n || *n == 0) break;
    out.append(buf.begin(), buf.begin() + static_cast<ptrdiff_t>(*n));
  }
  return out;
}

// A scratch tree: base/outside (canaries) beside base/root (served).
class HostileNames : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tftpspec-hostile-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    root_ = base_ / "root";
    outside_ = base_ / "outside";
    fs::create_directories(root_ / "sub");
    fs::create_directories(root_ / "d");
    fs::create_directories(outside_ / "dir");
    write_text(outside_ / "canary.txt", kCanary);
    write_text(outside_ / "dir" / "canary.txt", kCanary);
    write_text(base_ / "canary.txt", kCanary);
    write_text(root_ / "f.txt", "inside");
    write_text(root_ / "sub" / "g.txt", "inside too");
    fs::create_symlink("../outside/canary.txt", root_ / "link_out");
    fs::create_symlink(outside_ / "canary.txt", root_ / "link_abs");
    fs::create_symlink("../outside", root_ / "dir_out");
    fs::create_symlink(outside_ / "dir", root_ / "sub" / "dir_abs");
    fs::create_symlink("loop_b", root_ / "loop_a");
    fs::create_symlink("loop_a", root_ / "loop_b");
    fs::create_symlink("self", root_ / "self");
    fs::create_symlink("/dev/zero", root_ / "zero");
    ASSERT_EQ(::mkfifo((root_ / "fifo").c_str(), 0644), 0);
    // A device node inside the root needs CAP_MKNOD; the symlink to /dev/zero stands in without.
    has_device_ = ::mknod((root_ / "null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0;
    before_ = snapshot(base_, root_);
  }
  void TearDown() override { fs::remove_all(base_); }

  std::vector<std::string> corpus() const {
    const std::string up = "../";
    std::vector<std::string> names = {
        "../outside/canary.txt", "../../outside/canary.txt", "../canary.txt", "sub/../../outside/canary.txt",
        "./../outside/canary.txt", "sub/../../../canary.txt", "..", "../", "sub/..", ".", "./", "/", "//", "",
        "..\\outside\\canary.txt", "..\\canary.txt", "sub\\..\\..\\canary.txt", "\\..\\canary.txt",
        outside_.string() + "/canary.txt", base_.string() + "/canary.txt", "//" + outside_.string() + "/canary.txt",
        "%2e%2e/outside/canary.txt", "%2e%2e%2foutside%2fcanary.txt", "..%2foutside%2fcanary.txt",
        "%2E%2E/canary.txt", "..%5coutside%5ccanary.txt", "%252e%252e/canary.txt",
        "\xc0\xae\xc0\xae/canary.txt", "\xc0\xae\xc0\xae\xc0\xaf" "canary.txt", "....//outside/canary.txt",
        ".../canary.txt", "~/../canary.txt",
        "f.txt\0../../outside/canary.txt"s, "\0../canary.txt"s,
        std::string(300, 'A'), std::string(5000, 'A'), "sub/" + std::string(5000, 'B'),
        [&] { std::string s; for (int i = 0; i < 200; ++i) s += up; return s + "outside/canary.txt"; }(),
        [&] { std::string s; for (int i = 0; i < 2000; ++i) s += "sub/../"; return s + "../canary.txt"; }(),
        "link_out", "link_abs", "dir_out/canary.txt", "dir_out/dir/canary.txt", "sub/dir_abs/canary.txt",
        "dir_out/new.txt", "sub/dir_abs/new.txt", "dir_out", "loop_a", "loop_b", "self", "self/x", "fifo", "zero",
        "null", "d", "d/", "d/.", "sub", "f.txt/", "f.txt/..", "f.txt/../../canary.txt",
    };
    return names;
  }

  // Nothing outside the root changed, appeared or vanished.
  void expect_outside_untouched() {
    const auto after = snapshot(base_, root_);
    EXPECT_EQ(after, before_);
    EXPECT_EQ(read_text(outside_ / "canary.txt"), kCanary);
  }

  fs::path base_, root_, outside_;
  bool has_device_ = false;
  std::map<std::string, std::string> before_;
};

std::string printable(const std::string& name) {
  std::string out;
  for (unsigned char c : name.substr(0, 80)) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  return out + (name.size() > 80 ? "...(" + std::to_string(name.size()) + " bytes)" : "");
}

TEST_F(HostileNames, ReadsNeverReturnAByteFromOutsideTheRoot) {
  auto store = RootDirectory::open(root_, {});
  ASSERT_TRUE(store.has_value());
  size_t refused = 0;
  for (const auto& name : corpus()) {
    SCOPED_TRACE(printable(name));
    auto src = (*store)->open_read(name);  // must return, not block (FIFO) or loop (symlinks)
    if (!src) {
      ++refused;
      EXPECT_TRUE(src.error().code == 1 || src.error().code == 2) << src.error().code << " " << src.error().message;
      continue;
    }
    const std::string got = read_all(**src);
    EXPECT_EQ(got.find("CANARY"), std::string::npos);
    EXPECT_TRUE(got == "inside" || got == "inside too") << "served " << got.size() << " bytes";
  }
  EXPECT_GE(refused, corpus().size() - 3);  // only names that resolve inside ("f.txt\0..." is refused too)
  expect_outside_untouched();
  // The special files are refused as an access violation, never opened.
  for (const char* name : {"fifo", "zero", "d", "loop_a", "self", "link_out", "dir_out/canary.txt"}) {
    auto src = (*store)->open_read(name);
    ASSERT_FALSE(src.has_value()) << name;
    EXPECT_EQ(src.error().code, 2) << name;
  }
  if (has_device_) {
    auto src = (*store)->open_read("null");
    ASSERT_FALSE(src.has_value());
    EXPECT_EQ(src.error().code, 2);
  }
  // The check can fail: the canary read through a path that is not confined is seen.
  auto leak = RootDirectory::open(base_, {});
  ASSERT_TRUE(leak.has_value());
  auto src = (*leak)->open_read("outside/canary.txt");
  ASSERT_TRUE(src.has_value());
  EXPECT_NE(read_all(**src).find("CANARY"), std::string::npos);
}

TEST_F(HostileNames, WritesNeverTouchAByteOutsideTheRoot) {
  for (bool overwrite : {false, true}) {
    SCOPED_TRACE(overwrite ? "overwrite" : "no overwrite");
    auto store = RootDirectory::open(root_, RootPolicy{true, overwrite});
    ASSERT_TRUE(store.has_value());
    for (const auto& name : corpus()) {
      SCOPED_TRACE(printable(name));
      auto sink = (*store)->open_write(name);
      if (!sink) {
        EXPECT_TRUE(sink.error().code == 1 || sink.error().code == 2 || sink.error().code == 6)
            << sink.error().code << " " << sink.error().message;
        continue;
      }
      const std::string payload = "PAYLOAD";
      ASSERT_TRUE((*sink)->write(Bytes(payload.begin(), payload.end())).has_value());
      auto ok = (*sink)->commit();
      (void)ok;  // e.g. a directory or a FIFO under the name: refused at commit
    }
    expect_outside_untouched();
    // The symbolic links that lead out are still links, not replaced by or written through.
    EXPECT_TRUE(fs::is_symlink(fs::symlink_status(root_ / "link_out")));
    EXPECT_TRUE(fs::is_symlink(fs::symlink_status(root_ / "dir_out")));
  }
  // The check can fail: a write outside the root is seen.
  write_text(outside_ / "dir" / "planted.txt", "x");
  EXPECT_NE(snapshot(base_, root_), before_);
}

// An upload in progress has no name in the directory at all (O_TMPFILE): a crash, which
// runs no destructor, cannot leave a partial file or a temporary one behind.
TEST_F(HostileNames, AnUploadInProgressIsInvisibleAndAnAbortedOneLeavesNothing) {
  auto store = RootDirectory::open(root_, RootPolicy{true, true});
  ASSERT_TRUE(store.has_value());
  const auto listing = [&] {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(root_)) names.insert(e.path().filename().string());
    return names;
  };
  const auto empty_before = listing();
  auto sink = (*store)->open_write("up.bin");
  ASSERT_TRUE(sink.has_value());
  ASSERT_TRUE((*sink)->write(Bytes(100000, 7)).has_value());
  EXPECT_EQ(listing(), empty_before);
  (*sink)->abort();
  EXPECT_EQ(listing(), empty_before);
  // The named fallback (no O_TMPFILE) does show a temporary name meanwhile: what the check sees.
  auto named = RootDirectory::open(root_, RootPolicy{true, true, uint64_t{1} << 32, true});
  auto fallback = (*named)->open_write("up.bin");
  ASSERT_TRUE(fallback.has_value());
  EXPECT_NE(listing(), empty_before);
  (*fallback)->abort();
  EXPECT_EQ(listing(), empty_before);
}

// Two uploads of one name at once: the file is one of them, whole, never a mixture; without
// overwrite the second finds the name taken (ERROR 6) and the first stays.
TEST_F(HostileNames, ConcurrentUploadsOfOneNameNeverMix) {
  const Bytes a(300000, 'a');
  const Bytes b(200000, 'b');
  for (bool overwrite : {true, false}) {
    SCOPED_TRACE(overwrite ? "overwrite" : "no overwrite");
    fs::remove(root_ / "same.bin");
    size_t entries_before = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(root_)) ++entries_before;
    auto store = RootDirectory::open(root_, RootPolicy{true, overwrite});
    ASSERT_TRUE(store.has_value());
    auto first = (*store)->open_write("same.bin");
    auto second = (*store)->open_write("same.bin");
    ASSERT_TRUE(first.has_value());
    ASSERT_TRUE(second.has_value());
    for (size_t off = 0; off < a.size(); off += 512) {  // interleaved blocks, as two sessions would
      ASSERT_TRUE((*first)->write(std::span(a).subspan(off, std::min<size_t>(512, a.size() - off))).has_value());
      if (off < b.size()) {
        ASSERT_TRUE((*second)->write(std::span(b).subspan(off, std::min<size_t>(512, b.size() - off))).has_value());
      }
    }
    ASSERT_TRUE((*second)->commit().has_value());
    auto late = (*first)->commit();
    const std::string got = read_text(root_ / "same.bin");
    if (overwrite) {
      ASSERT_TRUE(late.has_value());
      EXPECT_EQ(got, std::string(a.begin(), a.end()));
    } else {
      ASSERT_FALSE(late.has_value());
      EXPECT_EQ(late.error().id, "tftp.io.exists");  // the transfer sends ERROR 6
      EXPECT_EQ(got, std::string(b.begin(), b.end()));
    }
    size_t entries = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(root_)) ++entries;
    EXPECT_EQ(entries, entries_before + 1) << "a temporary file stayed behind";
  }
}

// Runs `body` in a child process (which may unshare, mount or drop privileges without
// touching this one); its exit status is the verdict: 0 pass, 77 skip, else the failed check.
int in_child(const std::function<int()>& body) {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(body());
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

// An upload of `size` bytes in 512-byte blocks through the server's engine: the ERROR code
// the client receives (0 when the upload succeeds).
int upload_error_code(FileStore& store, const std::string& name, size_t size) {
  auto sink = store.open_write(name);
  if (!sink) return sink.error().code;
  const Address client = Address::loopback_v4(5000);
  auto t = engine::Transfer::server_write({}, client, engine::ServerNegotiation{}, std::move(*sink),
                                          Instant{std::chrono::seconds(1)});
  Bytes buf(t.max_datagram_size());
  int code = 0;
  auto drain = [&] {
    while (auto tx = t.poll_transmit(buf)) {
      auto p = proto::parse(std::span(buf).first(tx->size), proto::Strictness::kLenient);
      if (p) {
        if (const auto* e = std::get_if<proto::ErrorPacket>(&*p)) code = e->code;
      }
    }
  };
  drain();
  const Bytes block(512, 'x');
  for (size_t off = 0, n = 1; off <= size && !t.finished() && code == 0; off += 512, ++n) {
    const size_t len = std::min<size_t>(512, size - off);
    t.handle_datagram(Instant{std::chrono::seconds(1)}, client,
                      testing::data(static_cast<uint16_t>(n), Bytes(block.begin(), block.begin() + len)));
    drain();
  }
  return code;
}

TEST_F(HostileNames, AFullDiskIsError3AndCorruptsNothing) {
  const std::string mnt = (base_ / "small").string();
  fs::create_directories(mnt);
  const int verdict = in_child([&]() -> int {
    // A private mount namespace: the tmpfs is gone with this child, whatever happens.
    if (::unshare(CLONE_NEWNS) != 0) return 77;
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return 77;
    if (::mount("tftpspec-full", mnt.c_str(), "tmpfs", 0, "size=64k") != 0) return 77;
    write_text(fs::path(mnt) / "keep.bin", std::string(20000, 'k'));
    auto store = RootDirectory::open(mnt, RootPolicy{true, true});
    if (!store) return 10;
    if (upload_error_code(**store, "big.bin", 200000) != 3) return 11;      // ERROR 3, disk full
    if (upload_error_code(**store, "keep.bin", 200000) != 3) return 12;     // over an existing file
    if (read_text(fs::path(mnt) / "keep.bin") != std::string(20000, 'k')) return 13;  // untouched
    if (fs::exists(fs::path(mnt) / "big.bin")) return 14;
    size_t entries = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(mnt)) ++entries;
    if (entries != 1) return 15;  // no temporary file left
    if (upload_error_code(**store, "small.bin", 1000) != 0) return 16;  // room is back: space was freed
    return 0;
  });
  if (verdict == 77) GTEST_SKIP() << "cannot mount a tmpfs in a private mount namespace (needs CAP_SYS_ADMIN)";
  EXPECT_EQ(verdict, 0) << "failed check " << verdict;
}

TEST_F(HostileNames, PermissionErrorsAreError2) {
  write_text(root_ / "secret.bin", "secret");
  fs::permissions(root_ / "secret.bin", fs::perms::owner_write);  // not readable
  fs::create_directories(root_ / "ro");
  fs::permissions(base_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                             fs::perms::others_read | fs::perms::others_exec);  // mkdtemp made it 0700
  fs::permissions(root_ / "ro", fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                                    fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec);
  const int verdict = in_child([&]() -> int {
    // Root reads and writes anything: drop to nobody first (the files stay root's).
    if (::geteuid() == 0 && (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0)) return 77;
    auto store = RootDirectory::open(root_, RootPolicy{true, true});
    if (!store) return 10;
    auto r = (*store)->open_read("secret.bin");
    if (r || r.error().code != 2) return 11;
    if (upload_error_code(**store, "ro/new.bin", 1000) != 2) return 12;
    if (fs::exists(root_ / "ro" / "new.bin")) return 13;
    return 0;
  });
  if (verdict == 77) GTEST_SKIP() << "cannot drop root privileges to test permissions";
  EXPECT_EQ(verdict, 0) << "failed check " << verdict;
}

}  // namespace
}  // namespace tftp::server
