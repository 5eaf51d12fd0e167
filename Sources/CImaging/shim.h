#ifndef WABOX_CIMAGING_SHIM_H
#define WABOX_CIMAGING_SHIM_H

// libchafa (symbols mode) for the inline previews; the decoders (libjpeg, libpng, libwebp)
// are called from C in CImageCodecs, whose error handlers must longjmp.
#include <chafa.h>

// Swift cannot combine C enum flags without casts: the symbol classes a preview uses.
static inline ChafaSymbolTags cim_preview_symbols(void) {
    return (ChafaSymbolTags)(CHAFA_SYMBOL_TAG_BLOCK | CHAFA_SYMBOL_TAG_BORDER | CHAFA_SYMBOL_TAG_SPACE
                             | CHAFA_SYMBOL_TAG_BRAILLE);
}

// Symbols that take two cells, or whose width terminals disagree on, would break the cell grid.
static inline ChafaSymbolTags cim_unwanted_symbols(void) {
    return (ChafaSymbolTags)(CHAFA_SYMBOL_TAG_WIDE | CHAFA_SYMBOL_TAG_AMBIGUOUS | CHAFA_SYMBOL_TAG_UGLY);
}

#endif
