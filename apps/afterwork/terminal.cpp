// SPDX-License-Identifier: MIT
#include "terminal.hpp"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

namespace afterwork::apps {
namespace {

constexpr std::size_t kDefaultWidth = 100;
constexpr std::string_view kEllipsis = "…";

bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// The byte offset after the first `columns` code points of `text` (its size
// when shorter).
std::size_t prefix_bytes(std::string_view text, std::size_t columns) {
    std::size_t seen = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (is_continuation(text[i])) continue;
        if (seen == columns) return i;
        ++seen;
    }
    return text.size();
}

}  // namespace

std::size_t terminal_width() {
    if (const char* env = std::getenv("COLUMNS"); env != nullptr && *env != '\0') {
        std::size_t width = 0;
        const char* end = env + std::string_view(env).size();
        const auto [ptr, ec] = std::from_chars(env, end, width);
        if (ec == std::errc{} && ptr == end && width > 0) return width;
    }
    winsize size{};
    if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
    return kDefaultWidth;
}

bool stdout_is_terminal() { return ::isatty(STDOUT_FILENO) == 1; }

std::size_t display_width(std::string_view text) {
    return static_cast<std::size_t>(
        std::count_if(text.begin(), text.end(), [](char c) { return !is_continuation(c); }));
}

std::string fit(std::string_view text, std::size_t width) {
    if (display_width(text) <= width) return std::string(text);
    if (width == 0) return {};
    std::string out(text.substr(0, prefix_bytes(text, width - 1)));
    out += kEllipsis;
    return out;
}

std::string printable(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7F) c = ' ';
    }
    return out;
}

std::string render_table(const std::vector<Column>& columns,
                         const std::vector<std::vector<std::string>>& rows,
                         std::size_t width) {
    const std::size_t n = columns.size();
    std::vector<std::size_t> widths(n);
    for (std::size_t i = 0; i < n; ++i) {
        widths[i] = display_width(columns[i].header);
        for (const auto& row : rows) {
            if (i < row.size()) widths[i] = std::max(widths[i], display_width(row[i]));
        }
    }
    const auto total = [&] {
        std::size_t sum = n == 0 ? 0 : 2 * (n - 1);
        for (std::size_t w : widths) sum += w;
        return sum;
    };
    // Narrowing the widest cuttable column first takes from the long free-text
    // columns (error messages, names) before the short ones, and leaves each as
    // readable as the width allows.
    while (total() > width) {
        std::size_t widest = n;
        for (std::size_t i = 0; i < n; ++i) {
            if (columns[i].min_width == 0 || widths[i] <= columns[i].min_width) continue;
            if (widest == n || widths[i] > widths[widest]) widest = i;
        }
        if (widest == n) break;
        widths[widest] -= std::min(widths[widest] - columns[widest].min_width, total() - width);
    }

    std::string out;
    const auto add_line = [&](const auto& cell_at) {
        std::string line;
        for (std::size_t i = 0; i < n; ++i) {
            const std::string cell = fit(cell_at(i), widths[i]);
            const std::size_t pad = widths[i] - display_width(cell);
            if (i > 0) line += "  ";
            if (columns[i].align_right) line.append(pad, ' ');
            line += cell;
            // The last column is not padded: no trailing blanks.
            if (!columns[i].align_right && i + 1 < n) line.append(pad, ' ');
        }
        line.resize(prefix_bytes(line, width));
        while (!line.empty() && line.back() == ' ') line.pop_back();
        out += line;
        out += '\n';
    };
    add_line([&](std::size_t i) -> std::string_view { return columns[i].header; });
    for (const auto& row : rows) {
        add_line([&](std::size_t i) -> std::string_view {
            return i < row.size() ? std::string_view(row[i]) : std::string_view();
        });
    }
    return out;
}

std::string progress_bar(double fraction, std::size_t cells) {
    // Written so NaN counts as 0.
    if (!(fraction > 0.0)) fraction = 0.0;
    fraction = std::min(fraction, 1.0);
    const auto filled = static_cast<std::size_t>(std::floor(fraction * static_cast<double>(cells)));
    const auto percent = static_cast<int>(std::floor(fraction * 100.0));
    return fmt::format(
        "[{}{}] {}%", std::string(filled, '#'), std::string(cells - filled, '-'), percent);
}

}  // namespace afterwork::apps
