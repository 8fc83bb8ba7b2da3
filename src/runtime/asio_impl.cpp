// SPDX-License-Identifier: MIT
// Asio's separate compilation: every translation unit that includes Asio sees
// BOOST_ASIO_SEPARATE_COMPILATION (a PUBLIC definition of afterwork::runtime, so programs that
// link afterwork get it too), which turns Asio's non-template functions from inline
// definitions compiled in each of them into declarations; this one translation unit defines
// them. See bench/README.md, "Compile time".
#include <boost/asio/impl/src.hpp>
