#ifndef WABOX_CNCURSES_SHIM_H
#define WABOX_CNCURSES_SHIM_H

// Wide-character curses: without these, get_wch and the cchar_t functions are missing.
#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif
#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif

#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>
#include <wchar.h>
#include <ncursesw/curses.h>

// Swift cannot read these C globals or expand these macros: wrap them.
static inline WINDOW *cnc_stdscr(void) { return stdscr; }
static inline int cnc_cols(void) { return COLS; }
static inline int cnc_lines(void) { return LINES; }
static inline int cnc_colors(void) { return COLORS; }
static inline int cnc_color_pairs(void) { return COLOR_PAIRS; }
static inline int cnc_color_pair(int pair) { return (int)COLOR_PAIR(pair); }
static inline int cnc_a_bold(void) { return (int)A_BOLD; }
static inline int cnc_a_dim(void) { return (int)A_DIM; }
static inline int cnc_a_underline(void) { return (int)A_UNDERLINE; }
static inline int cnc_a_reverse(void) { return (int)A_REVERSE; }
static inline int cnc_a_italic(void) { return (int)A_ITALIC; }
static inline int cnc_get_wch(unsigned int *out) {
    wint_t ch = 0;
    int result = get_wch(&ch);
    *out = (unsigned int)ch;
    return result;
}
static inline int cnc_key_code_yes(void) { return KEY_CODE_YES; }

// Signals: SIGINT/SIGTERM/SIGHUP are noted for the main loop to act on; a crash restores
// the terminal before the default action runs.
static volatile sig_atomic_t cnc_pending_signal = 0;

static void cnc_note_signal(int sig) { cnc_pending_signal = sig; }

static void cnc_crash(int sig) {
    endwin();
    signal(sig, SIG_DFL);
    raise(sig);
}

static inline void cnc_install_signal_handlers(void) {
    signal(SIGINT, cnc_note_signal);
    signal(SIGTERM, cnc_note_signal);
    signal(SIGHUP, cnc_note_signal);
    signal(SIGSEGV, cnc_crash);
    signal(SIGBUS, cnc_crash);
    signal(SIGILL, cnc_crash);
    signal(SIGTRAP, cnc_crash);
    signal(SIGABRT, cnc_crash);
    signal(SIGFPE, cnc_crash);
}

static inline int cnc_take_signal(void) {
    int sig = cnc_pending_signal;
    cnc_pending_signal = 0;
    return sig;
}

#endif
