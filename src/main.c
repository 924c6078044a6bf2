/* main.c - argument parsing and wiring only (being written). */
#include <stdio.h>
int main(void)
{
    puts("importq " IMPORTQ_VERSION);
    return 0;
}
