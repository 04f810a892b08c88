// libFuzzer target: the exec message's payload parser of execproc.c (parse
// and hex_program). Built and run by contrib/fuzz.sh.
#define MYRUN_FUZZ 1
#include "../execproc.c"

#include "fuzz.h"

int myrun_sync_fd = -1;

int myrun_send_cmsg(int sock, const char *payload, int type, const void *data, size_t len)
{
	(void)sock, (void)payload, (void)type, (void)data, (void)len;
	return -1;
}

char *myrun_recv_msg(uint32_t want, size_t max, size_t *len)
{
	(void)want, (void)max, (void)len;
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void release(struct process *p)
{
	free(p->argv);
	free(p->envp);
	free(p->gids);
	free(p->rlimits);
	free(p->prog);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct process p;
	char *buf;

	// myrun_recv_msg hands parse a NUL-terminated copy of the payload.
	buf = malloc(size + 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	memset(&p, 0, sizeof(p));
	if (setjmp(fuzz_bail_jmp) == 0) {
		parse(&p, buf, size);
		if (p.argc == 0 || p.last_cap < 0 || p.last_cap > 63)
			abort();
		if (p.argv[p.argc] != NULL || p.envp[p.envc] != NULL)
			abort();
	}
	release(&p);
	free(buf);
	return 0;
}
