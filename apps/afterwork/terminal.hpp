// SPDX-License-Identifier: MIT
#pragma once

// What the `afterwork` command needs from a terminal: its width, whether stdout
// is one, text measured and cut in display columns, tables that fit the width,
// and a progress bar.
//
// Widths count UTF-8 code points, one column each: right for the names, states,
// times and messages the commands print, approximate for East Asian wide
// characters and emoji (which take two columns), so a table with those may be a
// little wider than measured; every line is still cut to the width.
//
// Thread safety: thread-safe (free functions without shared state).

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace afterwork::apps {

/// The width to print for: COLUMNS when it holds a positive number, else the
/// width of the terminal stdout is connected to, else 100.
std::size_t terminal_width();

/// Whether stdout is a terminal (progress is redrawn in place there, printed as
/// lines else).
bool stdout_is_terminal();

/// The columns `text` takes (its UTF-8 code points).
std::size_t display_width(std::string_view text);

/// `text` cut to at most `width` columns, ending in "…" when something was cut.
/// Never splits a UTF-8 sequence.
std::string fit(std::string_view text, std::size_t width);

/// `text` with control characters (newlines, tabs, escape sequences) replaced
/// by spaces, so a job's name or error message cannot break a table or drive
/// the terminal.
std::string printable(std::string_view text);

/// One column of `render_table`.
struct Column {
    std::string header;
    bool align_right = false;
    /// The narrowest this column may be cut to when the table is too wide; 0:
    /// never cut.
    std::size_t min_width = 0;
};

/// `rows` under `columns`' headers, two spaces between columns, one line per
/// row, each line ending in '\n' and no wider than `width`: when the natural
/// widths do not fit, the widest cuttable column is narrowed (its cells end in
/// "…") until they do or every cuttable column is at its minimum; lines are cut
/// to `width` after that. Cells should be `printable`.
std::string render_table(const std::vector<Column>& columns,
                         const std::vector<std::vector<std::string>>& rows,
                         std::size_t width);

/// `[######----] 42%` with `cells` cells for `fraction` (clamped to 0..1).
std::string progress_bar(double fraction, std::size_t cells);

}  // namespace afterwork::apps
