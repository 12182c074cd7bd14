/* A test guest in one boot sector: the BIOS loads it at 0x7c00, it prints
 * "VMD-BOOT-OK" on COM1 and then echoes back whatever arrives there,
 * turning CR into CR LF, until it receives the byte 0x1f: then it powers
 * the machine off through ACPI, as a guest's clean shutdown does.  It gives
 * the end-to-end tests a guest that boots in milliseconds, answers typed
 * input and can shut down, without Linux.
 *
 * Built with: cc -c bootsector.S && ld -Ttext 0x7c00 --oformat binary
 * -e _start (see Makefile.am).  The UART is polled, not interrupt driven,
 * and left as the BIOS (SeaBIOS) set it up: 115200 8N1 needs no setup
 * under QEMU, which ignores the divisor anyway. */

#define COM1	0x3f8
#define LSR	(COM1 + 5)
#define LSR_DR	0x01	/* a received byte is waiting */
#define LSR_THRE 0x20	/* transmit holding register empty */
#define POWEROFF_KEY 0x1f
/* QEMU's PIIX4 power management block, where SeaBIOS puts it: PM1a
 * control; SLP_EN with sleep type 0 is S5 (soft off) on this machine. */
#define PM1A_CNT 0x604
#define SLP_EN	0x2000

	.code16
	.text
	.globl _start
_start:
	cli
	xorw	%ax, %ax
	movw	%ax, %ds
	movw	%ax, %ss
	movw	$0x7c00, %sp
	cld
	/* some BIOSes jump to 07c0:0000; make it 0000:7c00 */
	ljmp	$0, $start

start:
	movw	$banner, %si
print:
	lodsb
	testb	%al, %al
	jz	echo
	call	putc
	jmp	print

/* Echo loop: wait for a byte, send it back; CR also gets an LF. */
echo:
	movw	$LSR, %dx
1:	inb	%dx, %al
	testb	$LSR_DR, %al
	jz	1b
	movw	$COM1, %dx
	inb	%dx, %al
	cmpb	$POWEROFF_KEY, %al
	je	poweroff
	call	putc
	cmpb	$0x0d, %al	/* CR */
	jne	echo
	movb	$0x0a, %al	/* LF */
	call	putc
	jmp	echo

poweroff:
	movw	$PM1A_CNT, %dx
	movw	$SLP_EN, %ax
	outw	%ax, %dx
	hlt
	jmp	poweroff

/* Sends %al on COM1 once the transmitter has room; keeps %al. */
putc:
	movb	%al, %ah
	movw	$LSR, %dx
1:	inb	%dx, %al
	testb	$LSR_THRE, %al
	jz	1b
	movw	$COM1, %dx
	movb	%ah, %al
	outb	%al, %dx
	ret

banner:
	.asciz	"VMD-BOOT-OK\r\n"

	/* pad to 510 bytes (the assembler fails if the code outgrew it),
	 * then the boot signature */
	.org	510
	.byte	0x55, 0xaa
