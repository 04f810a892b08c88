// Shared by the libFuzzer targets of the constructor's parsers. Each target
// includes the C file it tests first (to reach its static parser, with its
// _GNU_SOURCE) with MYRUN_FUZZ defined, so no constructor runs, then this
// file, which supplies myrun_bail: a parse error returns to the harness
// instead of exiting.
#ifndef MYRUN_FUZZ_H
#define MYRUN_FUZZ_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

static jmp_buf fuzz_bail_jmp;

void myrun_bail(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	longjmp(fuzz_bail_jmp, 1);
}

#endif
