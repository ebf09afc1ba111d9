/* KVM probe boot sector (virtkube.launcher.accel). Real mode -> 32-bit protected
   mode, a software interrupt through an IDT and back with iret (what syslinux
   and Linux early boot do), then "OK\n" on the debug port 0x402 and hlt.
   Build: as --32 -o p.o kvm_probe.S && ld -m elf_i386 -Ttext 0x7c00 -e start --oformat binary -o p.bin p.o */
    .code16
    .org 0
start:
    cli
    xor %ax, %ax
    mov %ax, %ds
    mov %ax, %ss
    mov $0x7c00, %sp
    lgdt gdtr
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $0x08, $pm
    .code32
pm:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $0x7c00, %esp
    lidt (idtr)
    int $0x20
    mov $0x402, %dx
    mov $'O', %al
    out %al, %dx
    mov $'K', %al
    out %al, %dx
    mov $'\n', %al
    out %al, %dx
1:  hlt
    jmp 1b
handler:
    iret
    .p2align 3
gdt:
    .quad 0
    .quad 0x00cf9a000000ffff   /* code 0-4G */
    .quad 0x00cf92000000ffff   /* data 0-4G */
gdtr:
    .word gdtr - gdt - 1
    .long gdt
    .p2align 3
idt:
    .fill 0x20, 8, 0
    /* gate 0x20: 32-bit interrupt gate to handler, selector 0x08 */
    .word handler
    .word 0x08
    .byte 0
    .byte 0x8e
    .word 0
idt_end:
idtr:
    .word idt_end - idt - 1
    .long idt
    .org 510
    .byte 0x55, 0xaa
