/* Two decimal digits at a time: the encoder writes ints, floats and
 * datetimes by hand on its hot path, and a pair table halves the divisions. */
#ifndef VX_DIGITS_H
#define VX_DIGITS_H

#include <stdint.h>
#include <string.h>

static const char VX_DIGIT_PAIRS[201] = "00010203040506070809"
                                        "10111213141516171819"
                                        "20212223242526272829"
                                        "30313233343536373839"
                                        "40414243444546474849"
                                        "50515253545556575859"
                                        "60616263646566676869"
                                        "70717273747576777879"
                                        "80818283848586878889"
                                        "90919293949596979899";

/* Write v (0-99) as two digits at o. */
static inline void put2(char *o, uint32_t v) {
    memcpy(o, VX_DIGIT_PAIRS + 2 * v, 2);
}

#endif
