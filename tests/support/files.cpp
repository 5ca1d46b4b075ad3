#include "support/files.hpp"

#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>

#include "camscope/util/strings.hpp"

namespace camscope::support {

namespace fs = std::filesystem;

TempDir::TempDir(const std::string& tag) {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("camscope_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
}

TempDir::~TempDir() {
    std::error_code ec;
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path_, ec);
}

std::string slurp(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

std::map<std::string, std::string> files_with_bytes(const fs::path& dir) {
    std::map<std::string, std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(dir))
        if (e.is_regular_file()) out[fs::relative(e.path(), dir).string()] = slurp(e.path());
    return out;
}

std::vector<std::vector<std::string>> read_csv(const fs::path& p) {
    std::ifstream f(p);
    std::vector<std::vector<std::string>> rows;
    std::string line;
    while (std::getline(f, line)) rows.push_back(split(line, ','));
    return rows;
}

}  // namespace camscope::support
