// libFuzzer target: the constructor's message header check (check_msg) and
// the bootstrap payload parser (parse_bootstrap) of nsexec.c. Built and run by contrib/fuzz.sh.
#define MYRUN_FUZZ 1
#include "../nsexec.c"

#include "fuzz.h"

void myrun_exec_process(void)
{
	_exit(0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[MSG_MAX + 1];
	static struct bootstrap b;

	// The constructor takes at most MSG_MAX bytes of payload, terminated.
	if (size > MSG_MAX)
		size = MSG_MAX;
	memcpy(buf, data, size);
	buf[size] = '\0';
	memset(&b, 0, sizeof(b));
	// The input as a whole packet, for the header check; then as the
	// payload, for the parser (whose corpus holds payloads).
	if (setjmp(fuzz_bail_jmp) == 0) {
		size_t n = check_msg((const char *)data, size, MYRUN_MSG_BOOTSTRAP);

		if (n + sizeof(struct myrun_msg_hdr) < size)
			abort();
	}
	if (setjmp(fuzz_bail_jmp) != 0)
		return 0;
	parse_bootstrap(buf, &b);
	if (b.njoins > MAX_JOINS || strlen(b.timens) >= sizeof(b.timens))
		abort();
	for (int i = 0; i < b.njoins; i++)
		if (b.joins[i].path < buf || b.joins[i].path > buf + size)
			abort();
	return 0;
}
