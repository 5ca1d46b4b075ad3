#include "camscope/util/npy.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <sstream>

#include "camscope/util/atomic_file.hpp"
#include "camscope/util/error.hpp"

// Format reference: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
// We store and read data as raw little-endian bytes; a big-endian host would need byte swaps.
static_assert(std::endian::native == std::endian::little, "npy.cpp assumes a little-endian host");

namespace camscope {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
// numpy pads the header so the data starts on a 64-byte boundary (ARRAY_ALIGN).
constexpr size_t kAlign = 64;

/// Item size of a supported dtype, 0 if unsupported. Byte-order-free one-byte types may be
/// spelled '|u1' or '<u1'; they are normalised to the '|' spelling.
size_t item_size(std::string& dtype) {
    if (dtype == "<u1" || dtype == "=u1") dtype = "|u1";
    if (dtype == "<b1" || dtype == "=b1") dtype = "|b1";
    if (dtype == "<f4" || dtype == "<i4") return 4;
    if (dtype == "<f8" || dtype == "<i8") return 8;
    if (dtype == "|u1" || dtype == "|b1") return 1;
    return 0;
}

/// Parser for the header's Python dict literal, e.g.
/// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class HeaderParser {
public:
    HeaderParser(const std::string& text, const std::string& file) : s_(text), file_(file) {}

    void parse(std::string& descr, bool& fortran, std::vector<std::int64_t>& shape) {
        bool have_descr = false, have_fortran = false, have_shape = false;
        expect('{');
        for (;;) {
            skip_ws();
            if (peek() == '}') break;
            std::string key = string_lit();
            expect(':');
            if (key == "descr") {
                descr = string_lit();
                have_descr = true;
            } else if (key == "fortran_order") {
                fortran = bool_lit();
                have_fortran = true;
            } else if (key == "shape") {
                shape = tuple_lit();
                have_shape = true;
            } else {
                fail("unexpected header key '" + key + "'");
            }
            skip_ws();
            if (peek() == ',') ++i_;
        }
        if (!have_descr || !have_fortran || !have_shape)
            fail("header lacks one of 'descr', 'fortran_order', 'shape'");
    }

private:
    [[noreturn]] void fail(const std::string& what) const {
        throw Error(where(file_, "malformed .npy header (" + what + " at header character " + std::to_string(i_) +
                                     "): " + s_));
    }
    void skip_ws() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n')) ++i_;
    }
    char peek() {
        skip_ws();
        return i_ < s_.size() ? s_[i_] : '\0';
    }
    void expect(char c) {
        if (peek() != c) fail(std::string("expected '") + c + "'");
        ++i_;
    }
    std::string string_lit() {
        char q = peek();
        if (q != '\'' && q != '"') fail("expected a quoted string");
        size_t end = s_.find(q, i_ + 1);
        if (end == std::string::npos) fail("unterminated string");
        std::string out = s_.substr(i_ + 1, end - i_ - 1);
        i_ = end + 1;
        return out;
    }
    bool bool_lit() {
        skip_ws();
        if (s_.compare(i_, 4, "True") == 0) { i_ += 4; return true; }
        if (s_.compare(i_, 5, "False") == 0) { i_ += 5; return false; }
        fail("expected True or False");
    }
    std::vector<std::int64_t> tuple_lit() {
        expect('(');
        std::vector<std::int64_t> dims;
        for (;;) {
            char c = peek();
            if (c == ')') { ++i_; break; }
            if (c < '0' || c > '9') fail("expected a dimension");
            std::int64_t v = 0;
            while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
                v = v * 10 + (s_[i_++] - '0');
                if (v > (std::int64_t{1} << 48)) fail("dimension too large");
            }
            dims.push_back(v);
            if (peek() == ',') ++i_;
        }
        return dims;
    }

    const std::string& s_;
    const std::string& file_;
    size_t i_ = 0;
};

std::string shape_repr(const std::vector<std::int64_t>& shape) {
    // Python tuple repr: (), (3,), (2, 3)
    std::string out = "(";
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i) out += ", ";
        out += std::to_string(shape[i]);
    }
    if (shape.size() == 1) out += ",";
    return out + ")";
}

template <typename T>
T load(const std::uint8_t* p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

}  // namespace

std::int64_t NpyArray::count() const {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
}

std::vector<float> NpyArray::as_float() const {
    const std::int64_t n = count();
    std::vector<float> out(static_cast<size_t>(n));
    const std::uint8_t* p = bytes.data();
    for (std::int64_t i = 0; i < n; ++i) {
        if (dtype == "<f4") out[i] = load<float>(p + 4 * i);
        else if (dtype == "<f8") out[i] = static_cast<float>(load<double>(p + 8 * i));
        else if (dtype == "<i8") out[i] = static_cast<float>(load<std::int64_t>(p + 8 * i));
        else if (dtype == "<i4") out[i] = static_cast<float>(load<std::int32_t>(p + 4 * i));
        else if (dtype == "|u1" || dtype == "|b1") out[i] = static_cast<float>(p[i]);
        else throw Error("NpyArray::as_float: unsupported dtype '" + dtype + "'");
    }
    return out;
}

std::vector<std::int64_t> NpyArray::as_int() const {
    const std::int64_t n = count();
    std::vector<std::int64_t> out(static_cast<size_t>(n));
    const std::uint8_t* p = bytes.data();
    for (std::int64_t i = 0; i < n; ++i) {
        if (dtype == "<i8") out[i] = load<std::int64_t>(p + 8 * i);
        else if (dtype == "<i4") out[i] = load<std::int32_t>(p + 4 * i);
        else if (dtype == "|u1" || dtype == "|b1") out[i] = p[i];
        // Silently truncating floats would hide a mix-up of label and score arrays.
        else throw Error("NpyArray::as_int: dtype '" + dtype + "' is not an integer type");
    }
    return out;
}

std::vector<std::uint8_t> encode_npy(const void* data, const std::string& dtype, const std::vector<std::int64_t>& shape) {
    std::string dt = dtype;
    const size_t item = item_size(dt);
    if (item == 0) throw Error("encode_npy: unsupported dtype '" + dtype + "'");
    std::int64_t n = 1;
    for (auto d : shape) {
        if (d < 0) throw Error("encode_npy: negative dimension " + std::to_string(d));
        n *= d;
    }
    std::string header = "{'descr': '" + dt + "', 'fortran_order': False, 'shape': " + shape_repr(shape) + ", }";
    // Version 1.0: magic, 2 version bytes, uint16 header length; header ends with '\n'.
    const size_t prefix = kMagicLen + 2 + 2;
    size_t total = prefix + header.size() + 1;
    size_t pad = (kAlign - total % kAlign) % kAlign;
    header.append(pad, ' ');
    header.push_back('\n');
    if (header.size() > 0xFFFF) throw Error("encode_npy: shape too long for a version 1.0 header");

    std::vector<std::uint8_t> out(prefix + header.size() + static_cast<size_t>(n) * item);
    std::memcpy(out.data(), kMagic, kMagicLen);
    out[6] = 1;  // version 1.0
    out[7] = 0;
    out[8] = static_cast<std::uint8_t>(header.size() & 0xFF);
    out[9] = static_cast<std::uint8_t>(header.size() >> 8);
    std::memcpy(out.data() + prefix, header.data(), header.size());
    if (n > 0) std::memcpy(out.data() + prefix + header.size(), data, static_cast<size_t>(n) * item);
    return out;
}

std::vector<std::uint8_t> encode_npy_f32(const float* data, const std::vector<std::int64_t>& shape) {
    return encode_npy(data, "<f4", shape);
}

void write_npy(const std::string& path, const float* data, const std::vector<std::int64_t>& shape) {
    write_file_atomic(path, encode_npy_f32(data, shape));
}

NpyArray read_npy(const std::string& path) {
    // Read through the header's shape: the data is read only once the file's size is what the
    // header implies (a link to /dev/zero or a FIFO is refused by RegularFile before any read).
    RegularFile f(path);
    const std::uint64_t size = f.size();
    std::uint8_t head[12] = {};
    f.read_at(0, head, static_cast<std::size_t>(std::min<std::uint64_t>(size, sizeof head)));
    if (size < kMagicLen + 4 || std::memcmp(head, kMagic, kMagicLen) != 0)
        throw Error(where(path, "not a .npy file (missing \\x93NUMPY magic)"));
    const int major = head[6], minor = head[7];
    size_t header_len = 0, prefix = 0;
    if (major == 1) {
        header_len = head[8] | (size_t{head[9]} << 8);
        prefix = 10;
    } else if (major == 2 || major == 3) {  // 3.0 only changes the header text encoding to UTF-8
        if (size < 12) throw Error(where(path, "truncated .npy header"));
        header_len = head[8] | (size_t{head[9]} << 8) | (size_t{head[10]} << 16) | (size_t{head[11]} << 24);
        prefix = 12;
    } else {
        throw Error(where(path, "unsupported .npy format version " + std::to_string(major) + "." +
                                    std::to_string(minor) + " (expected 1.0 or 2.0)"));
    }
    if (size < prefix + header_len)
        throw Error(where(path, "truncated .npy header: expected " + std::to_string(header_len) +
                                    " header bytes, found " + std::to_string(size - prefix)));
    const auto hbytes = f.read(prefix, header_len);
    std::string header(reinterpret_cast<const char*>(hbytes.data()), header_len);

    NpyArray arr;
    bool fortran = false;
    HeaderParser(header, path).parse(arr.dtype, fortran, arr.shape);
    const size_t isz = item_size(arr.dtype);
    if (isz == 0)
        throw Error(where(path, "unsupported dtype '" + arr.dtype + "' (expected <f4, <f8, <i8, <i4, |u1 or |b1)"));
    if (fortran && arr.shape.size() > 1)
        throw Error(where(path, "Fortran-ordered arrays are not supported (save with C order)"));

    const std::uint64_t found = size - prefix - header_len;
    // The item count, without overflow: a header may claim any shape ((2^32, 2^32) would wrap to 0
    // items and pass for an empty array).
    size_t expected = isz;  // bytes: item size × every dimension
    for (auto d : arr.shape)
        if (__builtin_mul_overflow(expected, static_cast<size_t>(d), &expected))
            throw Error(where(path, "shape " + shape_repr(arr.shape) + " holds more items than any file can"));
    if (found < expected)
        throw Error(where(path, "truncated data: expected " + std::to_string(expected) + " bytes, found " +
                                    std::to_string(found)));
    if (found > expected)
        throw Error(where(path, "trailing data: expected " + std::to_string(expected) + " bytes, found " +
                                    std::to_string(found)));
    arr.bytes = f.read(prefix + header_len, expected);
    return arr;
}

}  // namespace camscope
