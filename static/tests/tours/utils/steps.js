/** Steps the tours share. */

/** Open the current user's preferences: the user menu, then Preferences. */
export function openPreferences() {
    return [
        {
            content: "Open the user menu",
            trigger: ".o_user_menu button",
            run: "click",
        },
        {
            content: "Open my preferences",
            trigger: "[data-menu=preferences]",
            run: "click",
        },
    ];
}

/** Choose ``label`` in the selection field ``field`` of the open dialog. */
export function choose(field, label) {
    return [
        {
            content: `${field}: ${label}`,
            trigger: `.modal div[name=${field}] .o_select_menu_toggler`,
            run: "click",
        },
        {
            trigger: `.o_select_menu_item:contains(${label})`,
            run: "click",
        },
    ];
}
