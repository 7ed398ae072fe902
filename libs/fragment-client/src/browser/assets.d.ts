// Stylesheets are emitted as files next to the bundle (webpack asset modules).
declare module '*.css';
