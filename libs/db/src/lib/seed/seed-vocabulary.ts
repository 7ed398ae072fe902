/**
 * Words the seed stitches into names, bios, titles and posts, so the demo reads like a product and
 * not like `user_17` / `lorem ipsum`. ASCII only: handles are derived from names and must match
 * `^[a-z0-9_]+$`.
 */
export const SEED_VOCABULARY = {
  firstNames: [
    'Ada', 'Alan', 'Amara', 'Anika', 'Arjun', 'Astrid', 'Bea', 'Bruno', 'Camila', 'Chen', 'Chiara', 'Dario',
    'Dmitri', 'Elena', 'Emeka', 'Farah', 'Felix', 'Grace', 'Hana', 'Hugo', 'Ines', 'Isaac', 'Jonas', 'Julia',
    'Kai', 'Kenji', 'Lars', 'Leila', 'Lena', 'Liam', 'Lucia', 'Malik', 'Maya', 'Mei', 'Milan', 'Nadia',
    'Nia', 'Noah', 'Omar', 'Oscar', 'Priya', 'Quinn', 'Rafael', 'Rosa', 'Sami', 'Sara', 'Sofia', 'Tariq',
    'Theo', 'Uma', 'Valentina', 'Victor', 'Wen', 'Yara', 'Yusuf', 'Zara', 'Zoe', 'Ivan', 'Elif', 'Marta',
  ],
  lastNames: [
    'Abara', 'Andersen', 'Bauer', 'Bianchi', 'Costa', 'Dubois', 'Eriksson', 'Fernandes', 'Fischer', 'Garcia',
    'Haddad', 'Hansen', 'Ito', 'Jansen', 'Kaplan', 'Kim', 'Kowalski', 'Larsen', 'Lopez', 'Mbeki', 'Meyer',
    'Moreau', 'Nakamura', 'Novak', 'Okafor', 'Olsen', 'Park', 'Patel', 'Petrov', 'Quispe', 'Rossi', 'Sato',
    'Schmidt', 'Silva', 'Singh', 'Sorensen', 'Tanaka', 'Torres', 'Varga', 'Vogel', 'Wagner', 'Wang', 'Weber',
    'Yilmaz', 'Zhang', 'Ahmed', 'Baker', 'Chen', 'Diaz', 'Evans', 'Khan', 'Lindqvist', 'Murphy', 'Nguyen',
  ],
  roles: [
    'Backend engineer', 'Product designer', 'Data scientist', 'Teacher', 'Nurse', 'Architect', 'Barista',
    'Photographer', 'PhD student', 'Chef', 'Site reliability engineer', 'Journalist', 'Carpenter',
    'Illustrator', 'Product manager', 'Musician', 'Librarian', 'Physiotherapist', 'Translator', 'Founder',
  ],
  places: [
    'Lisbon', 'Berlin', 'Lagos', 'Montreal', 'Osaka', 'Melbourne', 'Nairobi', 'Oslo', 'Bogota', 'Seoul',
    'Porto', 'Austin', 'Krakow', 'Cape Town', 'Utrecht', 'Valencia', 'Chennai', 'Glasgow', 'Taipei', 'Lyon',
  ],
  interests: [
    'Into sourdough and trail running', 'Collects vinyl', 'Always reading something', 'Climbs on weekends',
    'Board game evangelist', 'Learning the cello, slowly', 'Grows too many tomatoes', 'Cycles everywhere',
    'Amateur astronomer', 'Makes terrible puns', 'Coffee first', 'Sketches on the train',
    'Writes about distributed systems', 'Plays chess badly and happily', 'Runs a book club',
  ],
  categories: [
    'Books', 'Music', 'Films', 'Games', 'Podcasts', 'Recipes', 'Gadgets', 'Board games', 'Trails', 'Coffee',
    'Comics', 'Courses',
  ],
  titleAdjectives: [
    'Silent', 'Copper', 'Midnight', 'Hidden', 'Electric', 'Golden', 'Paper', 'Northern', 'Velvet', 'Last',
    'Wild', 'Hollow', 'Crimson', 'Quiet', 'Glass', 'Endless', 'Little', 'Salt', 'Lucky', 'Restless',
    'Winter', 'Blue', 'Broken', 'Secret', 'Distant', 'Burning', 'Gentle', 'Iron', 'Lost', 'Open',
  ],
  titleNouns: [
    'Orchard', 'Horizon', 'Garden', 'Signal', 'Harbor', 'Lantern', 'Circuit', 'River', 'Archive', 'Meridian',
    'Atlas', 'Compass', 'Kitchen', 'Machine', 'Summit', 'Tide', 'Forest', 'Library', 'Engine', 'Island',
    'Cartographer', 'Workshop', 'Observatory', 'Parade', 'Voyage', 'Theory', 'Orbit', 'Canyon', 'Season', 'Echo',
  ],
  postOpeners: [
    'Just finished', 'Still thinking about', 'Hot take:', 'Finally tried', 'Cannot stop recommending',
    'Weekend plans involve', 'Halfway through', 'Revisited', 'Somebody please talk to me about',
    'Unpopular opinion about', 'Three days in with', 'A small love letter to',
  ],
  postClosers: [
    '. Highly recommend.', '. Thoughts?', '. Worth every minute.', ', and I have notes.', '. Not what I expected.',
    '. 10/10 would do again.', '. Changed my mind about a few things.', '. Anyone else?', '!', '. More soon.',
  ],
} as const satisfies Record<string, readonly string[]>;
