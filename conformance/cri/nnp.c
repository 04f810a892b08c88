/* The nonewprivs test image's program: installed setuid root, it prints the
 * effective uid it got, so critest can tell whether no_new_privs kept the
 * setuid bit from taking effect. Built static (gcc -static). */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	printf("Effective uid: %d\n", (int)geteuid());
	return 0;
}
